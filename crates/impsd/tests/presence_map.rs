//! GetMap over the real protocol (CSP 1.3, XML and WBXML): a location as
//! a PNG drawn by the server (PRR-2), asked for by GeoLocation value or by
//! User ID (PRR-3), by User ID only with location authorization (PRR-4,
//! PRR-UC); the URL mode and the off switch.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::presence_common;

use common::{TestServer, code_of};
use imps_client::{Element, Encoding, Version};
use presence_common::*;

const V: Version = Version::V1_3;
const ENCODINGS: [Encoding; 2] = [Encoding::Xml, Encoding::Wbxml];

/// The marker and accuracy-circle colours the built-in map promises
/// (docs/protocol.md, GetMap).
const MARKER: [u8; 3] = [0xE0, 0x20, 0x1C];
const ACCURACY: [u8; 3] = [0x2A, 0x6E, 0xD8];

fn geo(lat: &str, lon: &str, acc: Option<&str>) -> Element {
    let mut g = Element::new("GeoLocation")
        .with_text("Qualifier", "T")
        .with_text("Longitude", lon)
        .with_text("Latitude", lat);
    if let Some(a) = acc {
        g = g.with_text("Accuracy", a);
    }
    g
}

async fn map_of_value<T: imps_client::Transport>(
    c: &imps_client::Client<T>,
    lat: &str,
    lon: &str,
    acc: Option<&str>,
) -> Element {
    c.request(Element::new("GetMap-Request").with(sub_list([geo(lat, lon, acc)])))
        .await
        .unwrap()
}

async fn map_of_user<T: imps_client::Transport>(c: &imps_client::Client<T>, id: &str) -> Element {
    c.request(Element::new("GetMap-Request").with_text("UserID", wire(id)))
        .await
        .unwrap()
}

/// A decoded image: size and RGB pixels.
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    fn count(&self, colour: [u8; 3]) -> usize {
        self.rgb.chunks(3).filter(|p| *p == colour).count()
    }
}

/// The PNG bytes of a GetMap-Response, after checking its Map element.
fn png_bytes(resp: &Element) -> Vec<u8> {
    use base64::Engine as _;
    assert_eq!(resp.name, "GetMap-Response", "{resp:?}");
    assert_eq!(code_of(resp), Some(200), "{resp:?}");
    assert!(resp.child("URL").is_none());
    let map = resp.child("Map").expect("Map");
    assert_eq!(map.child_text("ContentType"), Some("image/png"));
    assert_eq!(map.child_text("ContentEncoding"), Some("BASE64"));
    let data = map.child_text("ContentData").expect("ContentData");
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .expect("ContentData is base64")
}

/// Reads the signature and IHDR by hand, then decodes every pixel.
fn decode(png_data: &[u8]) -> Image {
    assert_eq!(&png_data[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png_data[12..16], b"IHDR", "IHDR comes first");
    let width = u32::from_be_bytes(png_data[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png_data[20..24].try_into().unwrap());
    let mut dec = png::Decoder::new(std::io::Cursor::new(png_data));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().expect("a readable PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("image data decodes");
    assert_eq!((info.width, info.height), (width, height));
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Image { width, height, rgb }
}

#[tokio::test]
async fn prr_2_builtin_map_is_a_png_with_the_marker_at_the_position() {
    let srv = TestServer::start().await;
    for e in ENCODINGS {
        let ids = users(&srv, &tag(V, e), &["ann"]).await;
        let ann = online(&srv, V, e, &ids[0], "phone").await;
        let img = decode(&png_bytes(
            &map_of_value(&ann, "60.1699", "24.9384", Some("250")).await,
        ));
        assert_eq!((img.width, img.height), (176, 144), "{e:?}: default size");
        assert_eq!(img.pixel(88, 72), MARKER, "{e:?}: marker at the centre");
        for (x, y) in [(0, 0), (175, 0), (0, 143), (175, 143)] {
            assert_ne!(img.pixel(x, y), MARKER, "{e:?}: corner ({x},{y})");
        }
        let marker = img.count(MARKER);
        assert!(
            (20..200).contains(&marker),
            "{e:?}: a small marker, {marker} px"
        );
        assert!(img.count(ACCURACY) > 50, "{e:?}: the accuracy circle shows");
        // Without an accuracy there is no circle; the marker stays.
        let exact = decode(&png_bytes(
            &map_of_value(&ann, "60.1699", "24.9384", None).await,
        ));
        assert_eq!(exact.count(ACCURACY), 0, "{e:?}");
        assert_eq!(exact.pixel(88, 72), MARKER);
        // Another place gives another picture (the grid moves).
        let elsewhere = decode(&png_bytes(
            &map_of_value(&ann, "-33.8688", "151.2093", None).await,
        ));
        assert_ne!(elsewhere.rgb, exact.rgb, "{e:?}");
    }
    // GETMAP is a 1.3 function: a 1.2 session was never offered it.
    let ids = users(&srv, "v12", &["old"]).await;
    let old = online(&srv, Version::V1_2, Encoding::Xml, &ids[0], "phone").await;
    let r = map_of_value(&old, "60.1699", "24.9384", None).await;
    assert_eq!(code_of(&r), Some(506), "{r:?}");
    // The size is a setting.
    let srv = TestServer::start_with(|c| {
        c.map.width = 240;
        c.map.height = 100;
    })
    .await;
    let ids = users(&srv, "sz", &["ann"]).await;
    let ann = online(&srv, V, Encoding::Wbxml, &ids[0], "phone").await;
    let img = decode(&png_bytes(&map_of_value(&ann, "0", "0", None).await));
    assert_eq!((img.width, img.height), (240, 100));
    assert_eq!(img.pixel(120, 50), MARKER);
    // GETMAP is offered in service negotiation.
    let resp = ann.service_request_all().await.unwrap();
    assert!(
        resp.path(&[
            "AllFunctions",
            "WVCSPFeat",
            "FundamentalFeat",
            "ServiceFunc",
            "GETMAP"
        ])
        .is_some(),
        "{resp:?}"
    );
}

#[tokio::test]
async fn prr_3_map_by_geolocation_value_or_by_user_id() {
    let srv = TestServer::start().await;
    for e in ENCODINGS {
        let ids = users(&srv, &tag(V, e), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let alice = online(&srv, V, e, a, "phone").await;
        let bob = online(&srv, V, e, b, "phone").await;
        assert_eq!(
            grant(&alice, V, &[b], &["OnlineStatus", "GeoLocation"]).await,
            200
        );
        assert_eq!(
            update(&alice, vec![geo("60.1699", "24.9384", Some("80"))]).await,
            200
        );
        let by_user = png_bytes(&map_of_user(&bob, a).await);
        let by_value = png_bytes(&map_of_value(&bob, "60.1699", "24.9384", Some("80")).await);
        assert_eq!(
            by_user, by_value,
            "{e:?}: the map of alice's published location"
        );
        let img = decode(&by_user);
        assert_eq!(img.pixel(88, 72), MARKER);
        assert!(img.count(ACCURACY) > 0, "{e:?}: her accuracy is drawn");
        // She moves: the map follows.
        assert_eq!(
            update(&alice, vec![geo("59.3293", "18.0686", None)]).await,
            200
        );
        let moved = png_bytes(&map_of_user(&bob, a).await);
        assert_ne!(moved, by_user, "{e:?}");
        assert_eq!(
            moved,
            png_bytes(&map_of_value(&bob, "59.3293", "18.0686", None).await)
        );
        // The owner may always map herself.
        assert_eq!(png_bytes(&map_of_user(&alice, a).await), moved);
    }
}

#[tokio::test]
async fn prr_4_map_by_user_id_needs_location_authorization() {
    let srv = TestServer::start().await;
    for e in ENCODINGS {
        let ids = users(&srv, &tag(V, e), &["alice", "bob", "carol", "dave"]).await;
        let (a, b, c, d) = (
            ids[0].as_str(),
            ids[1].as_str(),
            ids[2].as_str(),
            ids[3].as_str(),
        );
        let alice = online(&srv, V, e, a, "phone").await;
        let bob = online(&srv, V, e, b, "phone").await;
        let carol = online(&srv, V, e, c, "phone").await;
        let dave = online(&srv, V, e, d, "phone").await;
        assert_eq!(
            grant(&alice, V, &[b], &["OnlineStatus", "GeoLocation"]).await,
            200
        );
        // Carol may see everything but location (PRR-UC).
        assert_eq!(
            grant(&alice, V, &[c], &["OnlineStatus", "StatusText", "Address"]).await,
            200
        );
        // Before anything is published: authorized → 404, not → 403.
        let none_yet = map_of_user(&bob, a).await;
        assert_eq!(code_of(&none_yet), Some(404), "{e:?}: {none_yet:?}");
        let carol_before = map_of_user(&carol, a).await;
        assert_eq!(code_of(&carol_before), Some(403), "{e:?}: {carol_before:?}");
        let dave_before = map_of_user(&dave, a).await;
        assert_eq!(code_of(&dave_before), Some(403), "{e:?}: no list at all");

        let mut pres = vec![geo("60.1699", "24.9384", None), attr("StatusText", "here")];
        pres.push(
            Element::new("Address")
                .with_text("Qualifier", "T")
                .with_text("City", "Helsinki"),
        );
        assert_eq!(update(&alice, pres).await, 200);
        assert_eq!(
            decode(&png_bytes(&map_of_user(&bob, a).await)).pixel(88, 72),
            MARKER
        );
        // Carol reads the rest of alice's presence, but no map: the answer
        // is the one she got before there was a location.
        let carol_pres = get_presence(&carol, V, a).await;
        assert_eq!(value_of(&carol_pres, "StatusText"), Some("here"));
        assert!(carol_pres.child("GeoLocation").is_none());
        let carol_after = map_of_user(&carol, a).await;
        assert_eq!(
            carol_after, carol_before,
            "{e:?}: nothing tells a location exists"
        );
        assert_eq!(map_of_user(&dave, a).await, dave_before);
        // Bob's map counts as a look at alice's presence; dave's refused
        // attempts do not.
        let r = alice
            .request(Element::new("GetWatcherList-Request"))
            .await
            .unwrap();
        let watchers: Vec<(&str, &str)> = r
            .children_named("Watcher")
            .filter_map(|w| Some((w.child_text("UserID")?, w.child_text("WatcherStatus")?)))
            .collect();
        assert!(
            watchers.contains(&(wire(b).as_str(), "PRESENCE_ACCESS")),
            "{e:?}: {watchers:?}"
        );
        assert!(
            watchers.iter().all(|(u, _)| *u != wire(d)),
            "{e:?}: {watchers:?}"
        );
        // Alice withdraws bob's location grant.
        assert_eq!(grant(&alice, V, &[b], &["OnlineStatus"]).await, 200);
        assert_eq!(code_of(&map_of_user(&bob, a).await), Some(403), "{e:?}");

        // Bad requests.
        let unknown = format!("nobody{}", tag(V, e));
        assert_eq!(code_of(&map_of_user(&bob, &unknown).await), Some(531));
        for (lat, lon) in [
            ("91", "0"),
            ("-90.5", "10"),
            ("10", "180.01"),
            ("abc", "1"),
            ("NaN", "1"),
        ] {
            let r = map_of_value(&bob, lat, lon, None).await;
            assert_eq!(code_of(&r), Some(402), "{e:?} {lat},{lon}: {r:?}");
        }
        let r = map_of_value(&bob, "10", "10", Some("-3")).await;
        assert_eq!(code_of(&r), Some(402), "negative accuracy");
        let no_lat = Element::new("GetMap-Request").with(sub_list([Element::new("GeoLocation")
            .with_text("Qualifier", "T")
            .with_text("Longitude", "1")]));
        assert_eq!(code_of(&bob.request(no_lat).await.unwrap()), Some(402));
        let neither = Element::new("GetMap-Request");
        assert_eq!(code_of(&bob.request(neither).await.unwrap()), Some(402));
        let both = Element::new("GetMap-Request")
            .with_text("UserID", wire(a))
            .with(sub_list([geo("1", "1", None)]));
        assert_eq!(code_of(&bob.request(both).await.unwrap()), Some(402));
        let no_geo = Element::new("GetMap-Request").with(sub_list([attr("StatusText", "x")]));
        assert_eq!(code_of(&bob.request(no_geo).await.unwrap()), Some(402));
    }
}

#[tokio::test]
async fn prr_2_url_mode_answers_with_the_templated_url() {
    let template = "https://maps.example/static?lat={lat}&lon={lon}&zoom={zoom}";
    let srv = TestServer::start_with(|c| {
        c.map.mode = imps_core::MapMode::Url;
        c.map.url_template = template.into();
    })
    .await;
    for e in ENCODINGS {
        let ids = users(&srv, &tag(V, e), &["alice", "bob"]).await;
        let (a, b) = (ids[0].as_str(), ids[1].as_str());
        let alice = online(&srv, V, e, a, "phone").await;
        let bob = online(&srv, V, e, b, "phone").await;
        let r = map_of_value(&bob, "60.1699", "24.9384", None).await;
        assert_eq!(r.name, "GetMap-Response", "{r:?}");
        assert_eq!(code_of(&r), Some(200));
        assert!(r.child("Map").is_none());
        assert_eq!(
            r.child_text("URL"),
            Some("https://maps.example/static?lat=60.1699&lon=24.9384&zoom=15"),
            "{e:?}"
        );
        // A vague position zooms out so its circle fits.
        let r = map_of_value(&bob, "-33.8688", "151.2093", Some("20000")).await;
        let url = r.child_text("URL").unwrap();
        let zoom: u8 = url
            .strip_prefix("https://maps.example/static?lat=-33.8688&lon=151.2093&zoom=")
            .unwrap_or_else(|| panic!("{url}"))
            .parse()
            .unwrap();
        assert!(zoom < 15, "{url}");
        // By UserID, with the same authorization as the image.
        assert_eq!(code_of(&map_of_user(&bob, a).await), Some(403));
        assert_eq!(grant(&alice, V, &[b], &["GeoLocation"]).await, 200);
        assert_eq!(
            update(&alice, vec![geo("48.8566", "2.3522", None)]).await,
            200
        );
        assert_eq!(
            map_of_user(&bob, a).await.child_text("URL"),
            Some("https://maps.example/static?lat=48.8566&lon=2.3522&zoom=15")
        );
    }
    // A template without {lat} or {lon} stops the start.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config(dir.path());
    cfg.map.mode = imps_core::MapMode::Url;
    cfg.map.url_template = "https://maps.example/static?q={query}".into();
    let err = impsd::start(cfg).await.err().expect("refused");
    assert!(err.to_string().contains("url_template"), "{err}");
    // An unknown provider is refused when the file is read.
    let err =
        toml::from_str::<impsd::Config>("[map]\nprovider = \"google\"\n").expect_err("refused");
    assert!(err.to_string().contains("map.provider"), "{err}");
}

#[tokio::test]
async fn prr_2_off_mode_gives_501_and_getmap_is_not_offered() {
    let srv = TestServer::start_with(|c| c.map.mode = imps_core::MapMode::Off).await;
    for e in ENCODINGS {
        let ids = users(&srv, &tag(V, e), &["ann"]).await;
        let ann = login_only(&srv, V, e, &ids[0], "phone").await;
        let r = map_of_value(&ann, "60.1699", "24.9384", None).await;
        assert_eq!(code_of(&r), Some(501), "{e:?}: {r:?}");
        let resp = ann.service_request_all().await.unwrap();
        let all = resp
            .path(&["AllFunctions", "WVCSPFeat"])
            .expect("AllFunctions");
        assert!(
            all.path(&["FundamentalFeat", "ServiceFunc", "GETMAP"])
                .is_none(),
            "{e:?}: {all:?}"
        );
        assert!(
            all.path(&["FundamentalFeat", "ServiceFunc", "GETSPI"])
                .is_some()
        );
        assert_eq!(
            code_of(&map_of_value(&ann, "1", "1", None).await),
            Some(501)
        );
    }
}

#[tokio::test]
async fn prr_2_map_fits_the_negotiated_message_size() {
    let srv = TestServer::start_with(|c| {
        c.map.width = 1024;
        c.map.height = 768;
    })
    .await;
    for e in ENCODINGS {
        let ids = users(&srv, &tag(V, e), &["ann", "tim"]).await;
        let ann = online(&srv, V, e, &ids[0], "phone").await;
        let full = png_bytes(&map_of_value(&ann, "60.1699", "24.9384", Some("250")).await);
        let big = decode(&full);
        assert_eq!((big.width, big.height), (1024, 768), "{e:?}");
        assert!(
            full.len() > 2048,
            "{e:?}: the full map is {} bytes",
            full.len()
        );
        // A client that takes 2 KB messages (CFG-1) gets a smaller map of
        // the same shape, whole, with the marker in the middle.
        let tim = login_only(&srv, V, e, &ids[1], "phone").await;
        tim.client_capability(&["SHTTP"], Some(2048)).await.unwrap();
        tim.service_request_all().await.unwrap();
        let r = map_of_value(&tim, "60.1699", "24.9384", Some("250")).await;
        // The whole message as the server sent it, envelope included.
        let sent = imps_client::Message::single(
            V,
            tim.session_id(),
            imps_client::Transaction::response(Some("0".repeat(16)), r.clone()),
        );
        let len = encoded_len(&sent, e);
        assert!(len <= 2048, "{e:?}: {len} bytes");
        let small = decode(&png_bytes(&r));
        assert!(
            small.width < 1024 && small.width >= 16,
            "{e:?}: {}",
            small.width
        );
        assert!(
            (small.width * 768).abs_diff(small.height * 1024) <= 1024,
            "{e:?}: same shape, {}x{}",
            small.width,
            small.height
        );
        assert_eq!(small.pixel(small.width / 2, small.height / 2), MARKER);
        assert!(small.count(ACCURACY) > 0);
        // One that takes almost nothing gets 432 instead of a cut image.
        let ids = users(&srv, &format!("t{}", tag(V, e)), &["min"]).await;
        let min = login_only(&srv, V, e, &ids[0], "phone").await;
        min.client_capability(&["SHTTP"], Some(700)).await.unwrap();
        let r = map_of_value(&min, "60.1699", "24.9384", Some("250")).await;
        assert_eq!(code_of(&r), Some(432), "{e:?}: {r:?}");
    }
}
