//! The built-in map: a PNG drawn from the position alone, so it needs no
//! map data and no network. It shows the latitude/longitude grid around
//! the position (the equator and the prime meridian darker), the
//! accuracy circle when one is known, and a marker at the position,
//! which is always the centre of the image.
//!
//! The projection is spherical Mercator on 256-pixel tiles (as slippy
//! maps use), so a zoom level means the same scale here as in a URL
//! template. Latitudes beyond ±85.0511° are drawn at that limit.

use super::{GeoPoint, MAX_SIDE, MAX_ZOOM, MIN_SIDE, MapError, MapProvider, MapReply, fit_zoom};

/// Mercator's latitude limit: the world is square at every zoom level.
pub(crate) const MAX_LAT: f64 = 85.051_128_779_806_6;

/// Palette indexes.
const BACKGROUND: u8 = 0;
const GRID: u8 = 1;
const GRID_MAJOR: u8 = 2;
const ACCURACY_FILL: u8 = 3;
const ACCURACY_EDGE: u8 = 4;
const MARKER: u8 = 5;
const MARKER_EDGE: u8 = 6;

/// RGB of each palette index, in index order.
pub const PALETTE: [[u8; 3]; 7] = [
    [0xF2, 0xEF, 0xE9], // background
    [0xC8, 0xC4, 0xBC], // grid
    [0x80, 0x7C, 0x74], // equator, prime meridian
    [0xD2, 0xE3, 0xFA], // inside the accuracy circle
    [0x2A, 0x6E, 0xD8], // accuracy circle
    [0xE0, 0x20, 0x1C], // marker
    [0x50, 0x08, 0x08], // marker outline
];

/// The marker's colour, for those checking an image.
pub const MARKER_RGB: [u8; 3] = PALETTE[MARKER as usize];
/// The accuracy circle's outline colour.
pub const ACCURACY_RGB: [u8; 3] = PALETTE[ACCURACY_EDGE as usize];

/// Grid spacings tried, in degrees, widest first.
const STEPS: [f64; 19] = [
    45.0, 30.0, 15.0, 10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001,
    0.0005, 0.0002, 0.0001,
];
/// Grid lines are at least this many pixels apart.
const MIN_STEP_PX: f64 = 40.0;
/// Marker radius in pixels, and its outline's outer radius.
const MARKER_R: f64 = 4.0;
const MARKER_EDGE_R: f64 = 5.5;

/// The built-in renderer: images of `width` × `height` pixels.
#[derive(Debug, Clone)]
pub struct Builtin {
    width: u32,
    height: u32,
    zoom: u8,
}

impl Builtin {
    pub fn new(width: u32, height: u32, zoom: u8) -> Result<Builtin, MapError> {
        if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
            return Err(MapError::Config(format!(
                "image size {width}x{height} outside {MIN_SIDE}..={MAX_SIDE}"
            )));
        }
        if zoom > MAX_ZOOM {
            return Err(MapError::Config(format!("zoom {zoom} above {MAX_ZOOM}")));
        }
        Ok(Builtin {
            width,
            height,
            zoom,
        })
    }

    /// The image as palette indexes, row by row.
    fn draw(&self, at: &GeoPoint) -> Vec<u8> {
        let z = fit_zoom(self.zoom, at, self.width, self.height);
        let view = View::new(at, z, self.width, self.height);
        let mut c = Canvas::new(self.width, self.height);
        if let Some(acc) = at.accuracy_m {
            let r = acc / super::metres_per_pixel(at.latitude, z);
            c.disc(view.cx, view.cy, r, ACCURACY_FILL);
        }
        view.grid(&mut c);
        if let Some(acc) = at.accuracy_m {
            let r = acc / super::metres_per_pixel(at.latitude, z);
            if r >= MARKER_EDGE_R {
                c.ring(view.cx, view.cy, r - 0.75, r + 0.75, ACCURACY_EDGE);
            }
        }
        c.disc(view.cx, view.cy, MARKER_EDGE_R, MARKER_EDGE);
        c.disc(view.cx, view.cy, MARKER_R, MARKER);
        c.px
    }

    fn encode(&self, px: &[u8]) -> Result<Vec<u8>, MapError> {
        let err = |e: png::EncodingError| MapError::Render(e.to_string());
        let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.width, self.height);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(palette);
        enc.set_compression(png::Compression::High);
        let mut w = enc.write_header().map_err(err)?;
        w.write_image_data(px).map_err(err)?;
        w.finish().map_err(err)?;
        Ok(out)
    }
}

impl MapProvider for Builtin {
    /// The configured size, or, when that is more than the client takes,
    /// the largest of a series of smaller sizes (3/4 of the side each
    /// step, same shape to the pixel) that fits.
    fn map_for(&self, at: &GeoPoint, max_bytes: Option<usize>) -> Result<MapReply, MapError> {
        let mut b = self.clone();
        let mut scale = 1.0_f64;
        loop {
            let data = b.encode(&b.draw(at))?;
            let limit = max_bytes.unwrap_or(usize::MAX);
            if data.len() <= limit {
                return Ok(MapReply::Image {
                    content_type: "image/png".into(),
                    data,
                });
            }
            // Give up only when neither side can shrink any more.
            if b.width.max(b.height) <= MIN_SIDE {
                return Err(MapError::TooLarge {
                    size: data.len(),
                    limit,
                });
            }
            scale *= 0.75;
            let side = |v: u32| ((f64::from(v) * scale).round() as u32).max(MIN_SIDE);
            b.width = side(self.width);
            b.height = side(self.height);
        }
    }
}

/// World pixel coordinates of a position at zoom `z`.
fn project(lat: f64, lon: f64, z: u8) -> (f64, f64) {
    let size = 256.0 * f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * size;
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let y = (1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * size;
    (x, y)
}

/// Latitude at world pixel row `y` on zoom `z`.
fn latitude_at(y: f64, z: u8) -> f64 {
    let size = 256.0 * f64::from(1u32 << z);
    let n = std::f64::consts::PI * (1.0 - 2.0 * y / size);
    n.sinh().atan().to_degrees()
}

/// Which part of the world the image shows.
struct View {
    z: u8,
    w: f64,
    h: f64,
    /// World pixel coordinates of the image's left and top edges.
    left: f64,
    top: f64,
    /// The position's pixel: the centre of the image.
    cx: f64,
    cy: f64,
}

impl View {
    fn new(at: &GeoPoint, z: u8, width: u32, height: u32) -> View {
        let (px, py) = project(at.latitude, at.longitude, z);
        // The marker's centre is the middle of pixel (width/2, height/2).
        let cx = f64::from(width / 2) + 0.5;
        let cy = f64::from(height / 2) + 0.5;
        View {
            z,
            w: f64::from(width),
            h: f64::from(height),
            left: px - cx,
            top: py - cy,
            cx,
            cy,
        }
    }

    /// Meridians and parallels at a round spacing.
    fn grid(&self, c: &mut Canvas) {
        let size = 256.0 * f64::from(1u32 << self.z);
        let deg_px = size / 360.0;
        let step = STEPS
            .iter()
            .copied()
            .rev()
            .find(|s| s * deg_px >= MIN_STEP_PX)
            .unwrap_or(STEPS[0]);
        // Meridians.
        let lon_left = self.left / size * 360.0 - 180.0;
        let lon_right = (self.left + self.w) / size * 360.0 - 180.0;
        let mut k = (lon_left / step).ceil() as i64;
        while (k as f64) * step <= lon_right {
            let lon = (k as f64) * step;
            let x = (lon + 180.0) / 360.0 * size - self.left;
            c.column(x.floor() as i64, if k == 0 { GRID_MAJOR } else { GRID });
            k += 1;
        }
        // Parallels.
        let lat_top = latitude_at(self.top, self.z).min(MAX_LAT);
        let lat_bottom = latitude_at(self.top + self.h, self.z).max(-MAX_LAT);
        let mut k = (lat_bottom / step).ceil() as i64;
        while (k as f64) * step <= lat_top {
            let lat = (k as f64) * step;
            let (_, y) = project(lat, 0.0, self.z);
            c.row(
                (y - self.top).floor() as i64,
                if k == 0 { GRID_MAJOR } else { GRID },
            );
            k += 1;
        }
    }
}

/// Palette indexes of one image.
struct Canvas {
    w: i64,
    h: i64,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Canvas {
        Canvas {
            w: i64::from(w),
            h: i64::from(h),
            px: vec![BACKGROUND; (w as usize) * (h as usize)],
        }
    }

    fn set(&mut self, x: i64, y: i64, v: u8) {
        if (0..self.w).contains(&x) && (0..self.h).contains(&y) {
            self.px[(y * self.w + x) as usize] = v;
        }
    }

    fn column(&mut self, x: i64, v: u8) {
        for y in 0..self.h {
            self.set(x, y, v);
        }
    }

    fn row(&mut self, y: i64, v: u8) {
        for x in 0..self.w {
            self.set(x, y, v);
        }
    }

    /// Pixels whose centre is within `r` of (cx, cy).
    fn disc(&mut self, cx: f64, cy: f64, r: f64, v: u8) {
        self.ring(cx, cy, -1.0, r, v);
    }

    /// Pixels whose centre lies between `r0` and `r1` from (cx, cy); only
    /// the rows and columns the circle touches are visited.
    fn ring(&mut self, cx: f64, cy: f64, r0: f64, r1: f64, v: u8) {
        let x0 = ((cx - r1).floor() as i64).max(0);
        let x1 = ((cx + r1).ceil() as i64).min(self.w - 1);
        let y0 = ((cy - r1).floor() as i64).max(0);
        let y1 = ((cy + r1).ceil() as i64).min(self.h - 1);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let d = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
                if d > r0 && d <= r1 {
                    self.set(x, y, v);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64, acc: Option<f64>) -> GeoPoint {
        GeoPoint::new(lat, lon, acc).unwrap()
    }

    #[test]
    fn marker_at_the_centre_and_circle_around_it() {
        let b = Builtin::new(176, 144, 15).unwrap();
        let px = b.draw(&at(60.1699, 24.9384, Some(300.0)));
        let idx = |x: usize, y: usize| px[y * 176 + x];
        assert_eq!(idx(88, 72), MARKER);
        assert!(px.contains(&ACCURACY_EDGE));
        assert!(px.contains(&ACCURACY_FILL));
        assert_ne!(idx(0, 0), MARKER);
        let exact = b.draw(&at(60.1699, 24.9384, None));
        assert!(!exact.contains(&ACCURACY_EDGE));
        assert_eq!(exact[72 * 176 + 88], MARKER);
    }

    #[test]
    fn grid_line_through_a_round_meridian() {
        // At zoom 15 lines are 0.002° apart (about 47 px); a point exactly
        // on 24.938° has its meridian through the centre column.
        let b = Builtin::new(176, 144, 15).unwrap();
        let px = b.draw(&at(60.17, 24.938, None));
        assert_eq!(px[88], GRID, "top of the centre column");
        assert!(px[176 * 143 + 88] == GRID || px[176 * 143 + 88] == GRID_MAJOR);
        // The prime meridian and the equator are darker.
        let zero = b.draw(&at(0.0, 0.0, None));
        assert_eq!(zero[88], GRID_MAJOR);
        assert_eq!(zero[72 * 176], GRID_MAJOR);
    }

    #[test]
    fn prr_2_a_long_thin_map_shrinks_along_its_long_side_to_fit() {
        let b = Builtin::new(1024, MIN_SIDE, 15).unwrap();
        let whole = match b.map_for(&at(60.17, 24.94, None), None).unwrap() {
            MapReply::Image { data, .. } => data.len(),
            other => panic!("{other:?}"),
        };
        let limit = whole * 2 / 3;
        match b.map_for(&at(60.17, 24.94, None), Some(limit)) {
            Ok(MapReply::Image { data, .. }) => assert!(data.len() <= limit),
            other => panic!("a narrower map fits {limit} bytes: {other:?}"),
        }
    }

    #[test]
    fn png_is_written() {
        let b = Builtin::new(40, 30, 3).unwrap();
        let MapReply::Image { content_type, data } =
            b.map_for(&at(-33.9, 151.2, None), None).unwrap()
        else {
            panic!("an image");
        };
        assert_eq!(content_type, "image/png");
        assert_eq!(&data[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&data[16..24], &[0, 0, 0, 40, 0, 0, 0, 30]);
    }

    #[test]
    fn poles_and_antimeridian_draw() {
        let b = Builtin::new(64, 64, 0).unwrap();
        for (lat, lon) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 180.0)] {
            let px = b.draw(&at(lat, lon, Some(MAX_ACCURACY_M_TEST)));
            assert_eq!(px[32 * 64 + 32], MARKER);
        }
    }

    const MAX_ACCURACY_M_TEST: f64 = super::super::MAX_ACCURACY_M;
}
