//! GetMap (PRR-2, PRR-3, PRR-4): a location as a map.
//!
//! A client asks for the map of a GeoLocation value it sends
//! (`PresenceSubList{GeoLocation}`) or of a user's published GeoLocation
//! (`UserID`). By UserID the requester must be authorized for that user's
//! GeoLocation first; the check is the presence area's, so the map shows
//! exactly what GetPresence would show.
//!
//! Where the map comes from is a [`MapProvider`]: the built-in renderer
//! ([`render::Builtin`], a PNG drawn here, no network), or a URL template
//! the operator points at a map service ([`url::UrlTemplate`]). With
//! [`MapMode::Off`] the server does not offer GETMAP at all.

mod render;
mod url;

use std::sync::Arc;

use imps_wire::{Element, Transaction};
use thiserror::Error;

pub use render::{ACCURACY_RGB, Builtin, MARKER_RGB, PALETTE};
pub use url::UrlTemplate;

use crate::CoreError;
use crate::base::Base;
use crate::presence::PresenceService;
use crate::reply::result;
use crate::service::Outcome;
use crate::session::Session;
use crate::users::canonical_user;

/// Smallest and largest image side the built-in renderer draws, in pixels.
pub const MIN_SIDE: u32 = 16;
pub const MAX_SIDE: u32 = 1024;
/// Deepest zoom level (slippy-map levels: 0 shows the whole world in 256
/// pixels, each level doubles the scale).
pub const MAX_ZOOM: u8 = 20;
/// Largest accuracy radius accepted, in metres (about half the equator).
pub const MAX_ACCURACY_M: f64 = 20_000_000.0;
/// Bytes of a GetMap-Response and its envelope around ContentData, with
/// room to spare (a session ID, a TransactionID, namespaces).
const RESPONSE_OVERHEAD: u64 = 640;
/// Longest URL template accepted.
pub const MAX_TEMPLATE_CHARS: usize = 2048;

/// Where maps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapMode {
    /// GETMAP is not offered; GetMap-Request gets 501.
    Off,
    /// The built-in renderer: a PNG in the response.
    Builtin,
    /// A URL built from `url_template` in the response.
    Url,
}

crate::config::setting_enum! {
    MapMode, "map.provider", to_ascii_lowercase, "\"builtin\", \"url\" or \"off\"",
    { Off => "off", Builtin => "builtin", Url => "url" }
}

/// Map settings: the `[map]` section, defaults in [`MAP_DEFAULTS`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapConfig {
    /// Where maps come from; `provider` in the file.
    #[serde(rename = "provider")]
    pub mode: MapMode,
    /// Image size of the built-in renderer, also offered to URL templates
    /// as `{width}` and `{height}`.
    pub width: u32,
    pub height: u32,
    /// Zoom level used when the position is exact; with an accuracy the
    /// level is lowered until the accuracy circle fits the image.
    pub zoom: u8,
    /// With `MapMode::Url`: e.g.
    /// `https://maps.example/static?lat={lat}&lon={lon}&zoom={zoom}`.
    /// Placeholders: {lat} {lon} {zoom} {width} {height} {accuracy}.
    /// Read from the file without surrounding blanks.
    #[serde(deserialize_with = "crate::config::trimmed")]
    pub url_template: String,
}

/// Built-in rendering at a size for small phone screens.
pub const MAP_DEFAULTS: MapConfig = MapConfig {
    mode: MapMode::Builtin,
    width: 176,
    height: 144,
    zoom: 15,
    url_template: String::new(),
};

impl Default for MapConfig {
    fn default() -> Self {
        MAP_DEFAULTS
    }
}

impl MapConfig {
    /// Checks the settings of the chosen mode; the message names the
    /// setting at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.zoom > MAX_ZOOM {
            return Err(format!("map.zoom must be 0..={MAX_ZOOM}"));
        }
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if !(MIN_SIDE..=MAX_SIDE).contains(&v) {
                return Err(format!("map.{name} must be {MIN_SIDE}..={MAX_SIDE}"));
            }
        }
        if self.mode == MapMode::Url {
            UrlTemplate::parse(&self.url_template).map_err(|e| format!("map.url_template: {e}"))?;
        }
        Ok(())
    }

    /// The provider for these settings; `None` when maps are off.
    pub fn provider(&self) -> Result<Option<Arc<dyn MapProvider>>, MapError> {
        Ok(match self.mode {
            MapMode::Off => None,
            MapMode::Builtin => Some(Arc::new(Builtin::new(self.width, self.height, self.zoom)?)),
            MapMode::Url => Some(Arc::new(UrlTemplate::new(
                &self.url_template,
                self.width,
                self.height,
                self.zoom,
            )?)),
        })
    }
}

/// A position to draw, already checked to be on Earth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Degrees, -90..=90.
    pub latitude: f64,
    /// Degrees, -180..=180.
    pub longitude: f64,
    /// Radius of uncertainty in metres.
    pub accuracy_m: Option<f64>,
}

impl GeoPoint {
    pub fn new(
        latitude: f64,
        longitude: f64,
        accuracy_m: Option<f64>,
    ) -> Result<GeoPoint, MapError> {
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            return Err(MapError::Coordinate(format!(
                "Latitude {latitude} outside -90..90"
            )));
        }
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            return Err(MapError::Coordinate(format!(
                "Longitude {longitude} outside -180..180"
            )));
        }
        if let Some(a) = accuracy_m
            && (!a.is_finite() || !(0.0..=MAX_ACCURACY_M).contains(&a))
        {
            return Err(MapError::Coordinate(format!(
                "Accuracy {a} outside 0..{MAX_ACCURACY_M} metres"
            )));
        }
        Ok(GeoPoint {
            latitude,
            longitude,
            accuracy_m,
        })
    }

    /// Reads `GeoLocation{Qualifier?, Longitude, Latitude, Altitude?,
    /// Accuracy?}`. Altitude plays no part in a flat map and is ignored.
    pub fn from_element(geo: &Element) -> Result<GeoPoint, MapError> {
        let num = |name: &str| -> Result<Option<f64>, MapError> {
            match geo
                .child_text(name)
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                None => Ok(None),
                Some(t) => t
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(Some)
                    .ok_or_else(|| MapError::Coordinate(format!("{name} {t:?} is not a number"))),
            }
        };
        let lat = num("Latitude")?
            .ok_or_else(|| MapError::Coordinate("GeoLocation without Latitude".into()))?;
        let lon = num("Longitude")?
            .ok_or_else(|| MapError::Coordinate("GeoLocation without Longitude".into()))?;
        GeoPoint::new(lat, lon, num("Accuracy")?)
    }
}

/// What a provider answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapReply {
    /// An image, sent base64 in `Map{ContentType, ContentEncoding,
    /// ContentData}`.
    Image { content_type: String, data: Vec<u8> },
    /// Where the client fetches the map itself.
    Url(String),
}

/// Produces the map of a position. Implementations must not block for
/// long: the call runs on the request's task.
pub trait MapProvider: Send + Sync {
    /// `max_bytes`: the most image bytes the client can take (CFG-1), when
    /// it said; an image must fit in it (`MapError::TooLarge` otherwise).
    fn map_for(&self, at: &GeoPoint, max_bytes: Option<usize>) -> Result<MapReply, MapError>;
}

#[derive(Debug, Error)]
pub enum MapError {
    /// The position given cannot be drawn (out of range, not a number).
    #[error("bad coordinate: {0}")]
    Coordinate(String),
    /// A setting is unusable (caught at start by `MapConfig::validate`).
    #[error("map settings: {0}")]
    Config(String),
    /// The image could not be written.
    #[error("map image: {0}")]
    Render(String),
    /// Even the smallest image is larger than the client takes.
    #[error("the smallest map is {size} bytes; the client takes {limit}")]
    TooLarge { size: usize, limit: usize },
}

/// Metres one pixel spans at `lat` on zoom level `z` (spherical Mercator,
/// 256-pixel tiles).
pub(crate) fn metres_per_pixel(lat: f64, z: u8) -> f64 {
    const EQUATOR_M: f64 = 40_075_016.686;
    let lat = lat.clamp(-render::MAX_LAT, render::MAX_LAT).to_radians();
    EQUATOR_M * lat.cos() / (256.0 * f64::from(1u32 << z))
}

/// `max_zoom`, or lower until the accuracy circle's radius is at most 40%
/// of the shorter side, so the whole circle shows.
pub(crate) fn fit_zoom(max_zoom: u8, at: &GeoPoint, width: u32, height: u32) -> u8 {
    let mut z = max_zoom;
    if let Some(acc) = at.accuracy_m {
        let room = 0.4 * f64::from(width.min(height));
        while z > 0 && acc / metres_per_pixel(at.latitude, z) > room {
            z -= 1;
        }
    }
    z
}

/// The map area (GETMAP). It asks presence where a user is.
pub(crate) struct MapService {
    pub(crate) base: Arc<Base>,
    presence: Arc<PresenceService>,
    /// Where maps come from; `None` when GETMAP is off.
    provider: Option<Arc<dyn MapProvider>>,
}

impl MapService {
    pub(crate) fn new(
        base: Arc<Base>,
        provider: Option<Arc<dyn MapProvider>>,
        presence: Arc<PresenceService>,
    ) -> MapService {
        MapService {
            base,
            presence,
            provider,
        }
    }

    /// Whether maps are on.
    pub(crate) fn is_on(&self) -> bool {
        self.provider.is_some()
    }

    /// Handles GetMap-Request, the one request of this area.
    pub(crate) async fn handle_map(
        &self,
        s: &Arc<Session>,
        tx: &Transaction,
    ) -> Result<Outcome, CoreError> {
        Ok(Outcome::Reply(self.get_map(s, &tx.body).await?))
    }

    /// GetMap-Request{UserID | PresenceSubList{GeoLocation}} →
    /// GetMap-Response{Result, Map{ContentType, ContentEncoding,
    /// ContentData} | URL}.
    async fn get_map(&self, s: &Arc<Session>, body: &Element) -> Result<Element, CoreError> {
        let Some(provider) = self.provider.clone() else {
            return Err(CoreError::NotImplemented("GetMap-Request".into()));
        };
        let user = body
            .child_text("UserID")
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let list = body.child("PresenceSubList");
        let at = match (user, list) {
            (Some(_), Some(_)) => {
                return Err(CoreError::BadParameter(
                    "GetMap-Request names a UserID and a GeoLocation; send one".into(),
                ));
            }
            (None, None) => {
                return Err(CoreError::BadParameter(
                    "GetMap-Request needs a UserID or PresenceSubList{GeoLocation}".into(),
                ));
            }
            (Some(raw), None) => {
                let owner = canonical_user(raw, &self.base.cfg.domain)?;
                if !self.base.user_exists(&owner).await? {
                    return Err(CoreError::UnknownUser(raw.to_string()));
                }
                let geo = self.presence.geolocation_for(&s.user, &owner).await?;
                // A published value that cannot be drawn is, for the map,
                // no location (the requester may see it with GetPresence).
                GeoPoint::from_element(&geo).map_err(|e| {
                    tracing::debug!(owner, error = %e, "published GeoLocation not drawable");
                    CoreError::NoLocation(raw.to_string())
                })?
            }
            (None, Some(l)) => {
                let geo = l.child("GeoLocation").ok_or_else(|| {
                    CoreError::BadParameter("PresenceSubList without GeoLocation".into())
                })?;
                GeoPoint::from_element(geo)?
            }
        };
        // CFG-1: the image, as base64 in its response, fits what the
        // client said it takes.
        let max_bytes = s
            .with_state(|st| st.caps.as_ref().and_then(|c| c.max_message_size()))
            .map(|m| {
                usize::try_from(m.saturating_sub(RESPONSE_OVERHEAD) / 4 * 3).unwrap_or(usize::MAX)
            });
        // Drawing and compressing can take milliseconds for a large map
        // (several tries to fit a small client): off the async threads.
        let reply = tokio::task::spawn_blocking(move || provider.map_for(&at, max_bytes))
            .await
            .map_err(|e| CoreError::Internal(format!("map drawing failed: {e}")))??;
        let resp = Element::new("GetMap-Response").with(result(200, "Successful"));
        Ok(match reply {
            MapReply::Image { content_type, data } => {
                use base64::Engine as _;
                resp.with(
                    Element::new("Map")
                        .with_text("ContentType", content_type)
                        .with_text("ContentEncoding", "BASE64")
                        .with_text(
                            "ContentData",
                            base64::engine::general_purpose::STANDARD.encode(data),
                        ),
                )
            }
            MapReply::Url(u) => resp.with_text("URL", u),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_checked() {
        let geo = |lat: &str, lon: &str| {
            Element::new("GeoLocation")
                .with_text("Qualifier", "T")
                .with_text("Longitude", lon)
                .with_text("Latitude", lat)
        };
        let ok = GeoPoint::from_element(&geo("60.1699", "24.9384")).unwrap();
        assert_eq!(
            (ok.latitude, ok.longitude, ok.accuracy_m),
            (60.1699, 24.9384, None)
        );
        for (lat, lon) in [
            ("91", "0"),
            ("0", "-180.5"),
            ("NaN", "0"),
            ("0", "inf"),
            ("x", "1"),
        ] {
            assert!(
                GeoPoint::from_element(&geo(lat, lon)).is_err(),
                "{lat} {lon}"
            );
        }
        let bad_acc = geo("1", "1").with_text("Accuracy", "-5");
        assert!(GeoPoint::from_element(&bad_acc).is_err());
        assert!(GeoPoint::from_element(&Element::new("GeoLocation")).is_err());
    }

    #[test]
    fn zoom_drops_until_the_circle_fits() {
        let exact = GeoPoint::new(0.0, 0.0, None).unwrap();
        assert_eq!(fit_zoom(15, &exact, 176, 144), 15);
        let vague = GeoPoint::new(0.0, 0.0, Some(5_000.0)).unwrap();
        let z = fit_zoom(15, &vague, 176, 144);
        assert!(z < 15);
        let r = 5_000.0 / metres_per_pixel(0.0, z);
        assert!(r <= 0.4 * 144.0 && r > 0.2 * 144.0, "radius {r} at {z}");
    }

    struct Fixed;

    impl MapProvider for Fixed {
        fn map_for(&self, at: &GeoPoint, _: Option<usize>) -> Result<MapReply, MapError> {
            Ok(MapReply::Url(format!(
                "geo:{},{}",
                at.latitude, at.longitude
            )))
        }
    }

    #[tokio::test]
    async fn an_operator_provider_plugs_in() {
        use crate::session::FunctionSet;
        use crate::{CoreConfig, FakeClock, MemStore, Service};
        use imps_wire::Version;
        let svc = |cfg: CoreConfig| {
            Service::new(
                cfg,
                Arc::new(MemStore::default()),
                Arc::new(FakeClock::new(1)),
            )
        };
        let mut off = CoreConfig::default();
        off.map.mode = MapMode::Off;
        let s = svc(off.clone());
        assert!(!s.map.is_on());
        assert!(
            !FunctionSet::available(Version::V1_3, &s.base.cfg.disabled_functions)
                .contains("GETMAP")
        );
        let s = svc(off.clone()).with_map_provider(Arc::new(Fixed));
        assert!(
            FunctionSet::available(Version::V1_3, &s.base.cfg.disabled_functions)
                .contains("GETMAP")
        );
        let at = GeoPoint::new(1.5, 2.0, None).unwrap();
        let got = s.map.provider.as_ref().unwrap().map_for(&at, None).unwrap();
        assert_eq!(got, MapReply::Url("geo:1.5,2".into()));
        // Policy still wins over a plugged-in provider.
        off.disabled_functions = vec!["GETMAP".into()];
        let s = svc(off).with_map_provider(Arc::new(Fixed));
        assert!(
            !FunctionSet::available(Version::V1_3, &s.base.cfg.disabled_functions)
                .contains("GETMAP")
        );
    }

    #[test]
    fn config_is_validated() {
        assert!(MAP_DEFAULTS.validate().is_ok());
        let mut c = MAP_DEFAULTS;
        c.width = 4;
        assert!(c.validate().is_err());
        c = MAP_DEFAULTS;
        c.mode = MapMode::Url;
        assert!(c.validate().is_err(), "url mode needs a template");
        c.url_template = "https://m.example/?a={lat},{lon}".into();
        assert!(c.validate().is_ok());
    }
}
