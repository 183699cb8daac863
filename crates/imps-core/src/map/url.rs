//! Maps by URL: the operator names a map service with a template, and the
//! response carries the URL for the client to fetch. The server itself
//! never contacts that service.

use super::{GeoPoint, MAX_TEMPLATE_CHARS, MAX_ZOOM, MapError, MapProvider, MapReply, fit_zoom};

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Lat,
    Lon,
    Zoom,
    Width,
    Height,
    Accuracy,
}

/// A checked URL template and the values it is filled with.
#[derive(Debug, Clone)]
pub struct UrlTemplate {
    pieces: Vec<Piece>,
    width: u32,
    height: u32,
    zoom: u8,
}

impl UrlTemplate {
    pub fn new(template: &str, width: u32, height: u32, zoom: u8) -> Result<UrlTemplate, MapError> {
        if zoom > MAX_ZOOM {
            return Err(MapError::Config(format!("zoom {zoom} above {MAX_ZOOM}")));
        }
        Ok(UrlTemplate {
            pieces: Self::parse(template).map_err(MapError::Config)?,
            width,
            height,
            zoom,
        })
    }

    /// Splits a template into text and placeholders. It must be an http or
    /// https URL without spaces or control characters, and name `{lat}`
    /// and `{lon}`; an unknown or unclosed placeholder is refused.
    pub(crate) fn parse(template: &str) -> Result<Vec<Piece>, String> {
        let t = template.trim();
        if t.is_empty() {
            return Err("empty".into());
        }
        if t.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(format!("longer than {MAX_TEMPLATE_CHARS} characters"));
        }
        let lower = t.to_ascii_lowercase();
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            return Err("must start with http:// or https://".into());
        }
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains spaces or control characters".into());
        }
        let mut pieces = Vec::new();
        let mut rest = t;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| "a '{' without its '}'".to_string())?;
            pieces.push(match &after[..close] {
                "lat" => Piece::Lat,
                "lon" => Piece::Lon,
                "zoom" => Piece::Zoom,
                "width" => Piece::Width,
                "height" => Piece::Height,
                "accuracy" => Piece::Accuracy,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}} (known: lat lon zoom width height accuracy)"
                    ));
                }
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        if rest.contains('}')
            || pieces
                .iter()
                .any(|p| matches!(p, Piece::Text(s) if s.contains('}')))
        {
            return Err("a '}' without its '{'".into());
        }
        if !pieces.contains(&Piece::Lat) || !pieces.contains(&Piece::Lon) {
            return Err("must contain {lat} and {lon}".into());
        }
        Ok(pieces)
    }

    /// The URL for a position.
    pub fn fill(&self, at: &GeoPoint) -> String {
        let zoom = fit_zoom(self.zoom, at, self.width, self.height);
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(s) => out.push_str(s),
                Piece::Lat => out.push_str(&decimal(at.latitude)),
                Piece::Lon => out.push_str(&decimal(at.longitude)),
                Piece::Zoom => out.push_str(&zoom.to_string()),
                Piece::Width => out.push_str(&self.width.to_string()),
                Piece::Height => out.push_str(&self.height.to_string()),
                Piece::Accuracy => out.push_str(&at.accuracy_m.map(decimal).unwrap_or_default()),
            }
        }
        out
    }
}

impl MapProvider for UrlTemplate {
    /// A URL is short; `max_bytes` is for images.
    fn map_for(&self, at: &GeoPoint, _max_bytes: Option<usize>) -> Result<MapReply, MapError> {
        Ok(MapReply::Url(self.fill(at)))
    }
}

/// Up to six decimals (about 10 cm), trailing zeros dropped: `60.1699`,
/// `-0.5`, `25`.
fn decimal(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn template_is_filled() {
        let t = UrlTemplate::new(
            "https://maps.example/static?lat={lat}&lon={lon}&z={zoom}&s={width}x{height}&acc={accuracy}",
            176,
            144,
            15,
        )
        .unwrap();
        let p = GeoPoint::new(60.1699, -0.5, None).unwrap();
        assert_eq!(
            t.fill(&p),
            "https://maps.example/static?lat=60.1699&lon=-0.5&z=15&s=176x144&acc="
        );
        let p = GeoPoint::new(-0.0000001, 25.0, Some(12.5)).unwrap();
        assert!(
            t.fill(&p)
                .starts_with("https://maps.example/static?lat=0&lon=25&z=15&")
        );
        assert!(t.fill(&p).ends_with("acc=12.5"));
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "",
            "ftp://x/{lat}{lon}",
            "https://x/?lat={lat}",
            "https://x/?lat={lat}&lon={lon}&q={query}",
            "https://x/?lat={lat}&lon={lon",
            "https://x/?lat={lat}&lon={lon}}",
            "https://x/ ?lat={lat}&lon={lon}",
        ] {
            assert!(UrlTemplate::parse(bad).is_err(), "{bad:?}");
        }
    }
}
