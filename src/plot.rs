//! Self-contained PNG charts for backtest reports.
//!
//! Everything here is written against `std` and `flate2` only:
//!
//! * [`encode_png`]: a minimal PNG encoder (8-bit RGB, filter 0 on every row, zlib through
//!   `flate2`, CRC-32 computed here).
//! * [`Canvas`]: an RGB raster with anti-aliased lines, polylines, filled areas, markers and text
//!   in a built-in 5×7 bitmap font (ASCII 32..=126, one extra row for descenders).
//! * Axis helpers: [`nice_ticks`] (1-2-5 steps), [`format_tick`], [`time_ticks`] (UTC labels whose
//!   format follows the span), [`format_utc`], and [`Axes`] for mapping data to pixels, gridlines
//!   and tick labels.
//! * Three report charts that return PNG bytes: [`equity_chart`], [`price_chart`], [`heatmap`].
//!
//! No function here panics on any input: empty slices, NaN or infinite values, a single point,
//! constant series, mismatched lengths (the shorter wins) and out-of-range timestamps all give a
//! valid PNG. Long series are reduced to at most four points per pixel column (first, minimum,
//! maximum, last) before drawing, so a million points draw in milliseconds.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;

// =============================================================================================
// PNG encoding
// =============================================================================================

/// Largest width or height, in pixels, that [`encode_png`] and [`Canvas::new`] accept; larger
/// values are clamped to it (and zero to 1).
pub const MAX_DIM: u32 = 16_384;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Compressed image data is split into IDAT chunks of at most this many bytes.
const IDAT_CHUNK: usize = 1 << 20;

/// zlib level for IDAT: charts are mostly flat colour, so a fast level compresses them well.
const ZLIB_LEVEL: u32 = 3;

const CRC_TABLE: [u32; 256] = crc_table();

/// The 256-entry lookup table for the reflected CRC-32 polynomial 0xEDB88320.
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
}

/// CRC-32 as PNG chunks use it (ISO 3309 / ITU-T V.42, reflected, init and xor-out all ones).
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for part in parts {
        for &byte in *part {
            crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
        }
    }
    crc ^ 0xFFFF_FFFF
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    // `data` is at most IDAT_CHUNK (or 13) bytes, so the length always fits.
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// zlib stream of the scanlines: each row is a filter byte 0 and `row_len` bytes of `rgb`,
/// zero-padded where `rgb` runs out.
fn deflate_rows(rgb: &[u8], row_len: usize, rows: usize) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::new(ZLIB_LEVEL));
    let mut row = vec![0u8; row_len + 1];
    for r in 0..rows {
        row.fill(0);
        let start = r.saturating_mul(row_len);
        if let Some(src) = rgb.get(start..) {
            let n = src.len().min(row_len);
            row[1..=n].copy_from_slice(&src[..n]);
        }
        if encoder.write_all(&row).is_err() {
            break;
        }
    }
    // Writing into a Vec cannot fail; an empty stream would only make an invalid image.
    encoder.finish().unwrap_or_default()
}

/// Encodes an 8-bit RGB image as PNG bytes.
///
/// `rgb` holds `width * height` pixels, row by row from the top, three bytes (R, G, B) each.
/// Width and height are clamped to `1..=MAX_DIM`; pixels missing from a short `rgb` are black and
/// extra bytes are ignored. Every row uses filter type 0 (none).
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let w = width.clamp(1, MAX_DIM);
    let h = height.clamp(1, MAX_DIM);
    let idat = deflate_rows(rgb, w as usize * 3, h as usize);

    let mut out = Vec::with_capacity(idat.len() + 64);
    out.extend_from_slice(&PNG_SIGNATURE);
    let mut ihdr = [0u8; 13];
    ihdr[0..4].copy_from_slice(&w.to_be_bytes());
    ihdr[4..8].copy_from_slice(&h.to_be_bytes());
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // colour type: truecolour (RGB)
                 // compression 0 (deflate), filter method 0, interlace 0: already zero
    write_chunk(&mut out, b"IHDR", &ihdr);
    for part in idat.chunks(IDAT_CHUNK) {
        write_chunk(&mut out, b"IDAT", part);
    }
    write_chunk(&mut out, b"IEND", &[]);
    out
}

// =============================================================================================
// Colours and theme
// =============================================================================================

/// An sRGB colour with 8 bits per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb {
    /// Red channel.
    pub r: u8,
    /// Green channel.
    pub g: u8,
    /// Blue channel.
    pub b: u8,
}

impl Rgb {
    /// A colour from its red, green and blue channels.
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b }
    }

    /// Linear mix of two colours: `t = 0` gives `self`, `t = 1` gives `other`. `t` is clamped to
    /// `0..=1`; NaN counts as 0.
    pub fn mix(self, other: Rgb, t: f64) -> Rgb {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let ch = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        Rgb::new(
            ch(self.r, other.r),
            ch(self.g, other.g),
            ch(self.b, other.b),
        )
    }

    /// Perceived brightness, 0 (black) to 255 (white).
    fn luma(self) -> f64 {
        0.299 * f64::from(self.r) + 0.587 * f64::from(self.g) + 0.114 * f64::from(self.b)
    }
}

const WHITE: Rgb = Rgb::new(255, 255, 255);
const BACKGROUND: Rgb = Rgb::new(255, 255, 255);
const PLOT_BG: Rgb = Rgb::new(252, 252, 253);
const GRID: Rgb = Rgb::new(228, 230, 235);
const FRAME: Rgb = Rgb::new(160, 164, 172);
const TEXT: Rgb = Rgb::new(45, 48, 55);
const TITLE: Rgb = Rgb::new(20, 22, 28);
const MUTED: Rgb = Rgb::new(130, 134, 142);
const BLUE: Rgb = Rgb::new(33, 102, 172);
const ORANGE: Rgb = Rgb::new(230, 126, 20);
const RED: Rgb = Rgb::new(205, 40, 45);
const GREEN: Rgb = Rgb::new(24, 150, 60);
const BLACK: Rgb = Rgb::new(25, 25, 30);
const MISSING: Rgb = Rgb::new(214, 216, 220);

// =============================================================================================
// Canvas
// =============================================================================================

/// Shape drawn by [`Canvas::marker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerShape {
    /// A triangle pointing up.
    TriangleUp,
    /// A triangle pointing down.
    TriangleDown,
    /// A filled circle.
    Circle,
}

/// An RGB raster to draw on.
///
/// (0, 0) is the top-left pixel. Pixel (x, y) covers the square `[x, x+1) × [y, y+1)`, so its
/// centre is at (x + 0.5, y + 0.5); the `f64` drawing calls use that continuous space and
/// anti-alias by coverage. Everything is clipped to the canvas: any coordinate, finite or not,
/// is accepted, and non-finite ones make the call draw nothing.
#[derive(Clone, Debug)]
pub struct Canvas {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `background`; width and height are clamped to `1..=MAX_DIM`.
    pub fn new(width: u32, height: u32, background: Rgb) -> Canvas {
        let width = width.clamp(1, MAX_DIM);
        let height = height.clamp(1, MAX_DIM);
        let n = width as usize * height as usize;
        let mut data = Vec::with_capacity(n * 3);
        for _ in 0..n {
            data.extend_from_slice(&[background.r, background.g, background.b]);
        }
        Canvas {
            width,
            height,
            data,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The raw pixels: rows from the top, three bytes (R, G, B) per pixel.
    pub fn rgb(&self) -> &[u8] {
        &self.data
    }

    /// The canvas as PNG bytes.
    pub fn to_png(&self) -> Vec<u8> {
        encode_png(self.width, self.height, &self.data)
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return None;
        }
        Some((y as usize * self.width as usize + x as usize) * 3)
    }

    /// The colour of pixel (x, y), or `None` outside the canvas.
    pub fn pixel(&self, x: i32, y: i32) -> Option<Rgb> {
        let i = self.index(i64::from(x), i64::from(y))?;
        let p = self.data.get(i..i + 3)?;
        Some(Rgb::new(p[0], p[1], p[2]))
    }

    /// Sets pixel (x, y); does nothing outside the canvas.
    pub fn set_pixel(&mut self, x: i32, y: i32, color: Rgb) {
        self.put(i64::from(x), i64::from(y), color);
    }

    fn put(&mut self, x: i64, y: i64, color: Rgb) {
        if let Some(i) = self.index(x, y) {
            if let Some(p) = self.data.get_mut(i..i + 3) {
                p.copy_from_slice(&[color.r, color.g, color.b]);
            }
        }
    }

    /// Paints `color` over pixel (x, y) with opacity `alpha` (clamped to `0..=1`).
    pub fn blend_pixel(&mut self, x: i32, y: i32, color: Rgb, alpha: f64) {
        self.blend(i64::from(x), i64::from(y), color, alpha);
    }

    fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f64) {
        if alpha.is_nan() || alpha <= 0.0 {
            return;
        }
        if alpha >= 1.0 {
            self.put(x, y, color);
            return;
        }
        if let Some(i) = self.index(x, y) {
            if let Some(p) = self.data.get_mut(i..i + 3) {
                let mixed = Rgb::new(p[0], p[1], p[2]).mix(color, alpha);
                p.copy_from_slice(&[mixed.r, mixed.g, mixed.b]);
            }
        }
    }

    /// Fills the rectangle whose top-left pixel is (x, y), `w` pixels wide and `h` tall.
    pub fn fill_rect(&mut self, x: i32, y: i32, w: i32, h: i32, color: Rgb) {
        self.blend_rect(x, y, w, h, color, 1.0);
    }

    /// Paints `color` over a rectangle (as [`Canvas::fill_rect`]) with opacity `alpha`.
    pub fn blend_rect(&mut self, x: i32, y: i32, w: i32, h: i32, color: Rgb, alpha: f64) {
        let x0 = i64::from(x).max(0);
        let y0 = i64::from(y).max(0);
        let x1 = (i64::from(x) + i64::from(w)).min(i64::from(self.width));
        let y1 = (i64::from(y) + i64::from(h)).min(i64::from(self.height));
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.blend(xx, yy, color, alpha);
            }
        }
    }

    /// Draws the 1-pixel outline of a rectangle (same geometry as [`Canvas::fill_rect`]).
    pub fn stroke_rect(&mut self, x: i32, y: i32, w: i32, h: i32, color: Rgb) {
        if w <= 0 || h <= 0 {
            return;
        }
        let right = x.saturating_add(w - 1);
        let bottom = y.saturating_add(h - 1);
        self.fill_rect(x, y, w, 1, color);
        self.fill_rect(x, bottom, w, 1, color);
        self.fill_rect(x, y, 1, h, color);
        self.fill_rect(right, y, 1, h, color);
    }

    /// Draws an anti-aliased straight line from (x0, y0) to (x1, y1), `thickness` pixels wide
    /// (clamped to `0.5..=4`; 1 or 2 is usual).
    pub fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, color: Rgb, thickness: f64) {
        if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
            return;
        }
        let t = if thickness.is_finite() {
            thickness.clamp(0.5, 4.0)
        } else {
            1.0
        };
        let m = t + 2.0;
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let Some((x0, y0, x1, y1)) = clip_segment(x0, y0, x1, y1, -m, -m, w + m, h + m) else {
            return;
        };
        let (dx, dy) = (x1 - x0, y1 - y0);
        let x_major = dx.abs() >= dy.abs();
        // Work in (major, minor) coordinates so one loop serves both orientations.
        let (a0, b0, a1, b1) = if x_major {
            (x0, y0, x1, y1)
        } else {
            (y0, x0, y1, x1)
        };
        let (a0, b0, a1, b1) = if a0 <= a1 {
            (a0, b0, a1, b1)
        } else {
            (a1, b1, a0, b0)
        };
        let run = a1 - a0;
        let slope = if run > 0.0 { (b1 - b0) / run } else { 0.0 };
        // Minor-axis extent that gives `t` pixels measured across the line.
        let half = t * (1.0 + slope * slope).sqrt() / 2.0;
        let i0 = (a0 - 0.5).ceil() as i64;
        let i1 = (a1 - 0.5).floor() as i64;
        if i0 > i1 {
            // Shorter than one pixel along the major axis: one column at its midpoint.
            let mid = (a0 + a1) / 2.0;
            let b = (b0 + b1) / 2.0;
            self.cover_span(mid.floor() as i64, b - half, b + half, color, x_major);
            return;
        }
        for i in i0..=i1 {
            let centre = i as f64 + 0.5;
            let b = b0 + slope * (centre - a0);
            self.cover_span(i, b - half, b + half, color, x_major);
        }
    }

    /// Blends the pixels of one column (x-major) or row (y-major) `major` by how much of each
    /// the interval `[lo, hi]` on the minor axis covers.
    fn cover_span(&mut self, major: i64, lo: f64, hi: f64, color: Rgb, x_major: bool) {
        let j0 = lo.floor() as i64;
        let j1 = hi.floor() as i64;
        for j in j0..=j1 {
            let cover = (hi.min(j as f64 + 1.0) - lo.max(j as f64)).clamp(0.0, 1.0);
            if x_major {
                self.blend(major, j, color, cover);
            } else {
                self.blend(j, major, color, cover);
            }
        }
    }

    /// Draws connected line segments through `points`. A non-finite point breaks the line; a
    /// finite point with no finite neighbour is drawn as a dot so it stays visible.
    pub fn polyline(&mut self, points: &[(f64, f64)], color: Rgb, thickness: f64) {
        let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
        for (i, p) in points.iter().enumerate() {
            if !finite(p) {
                continue;
            }
            let next = points.get(i + 1).filter(|q| finite(q));
            if let Some(q) = next {
                self.line(p.0, p.1, q.0, q.1, color, thickness);
            }
            let prev = i
                .checked_sub(1)
                .and_then(|j| points.get(j))
                .filter(|q| finite(q));
            if next.is_none() && prev.is_none() {
                let t = if thickness.is_finite() {
                    thickness.clamp(1.0, 4.0)
                } else {
                    1.0
                };
                self.fill_circle(p.0, p.1, t + 1.0, color);
            }
        }
    }

    /// Fills the area between the polyline through `points` and the horizontal line
    /// `y = baseline`, with opacity `alpha`. Each pixel column is filled from the baseline to the
    /// point of the polyline farthest from it within that column.
    pub fn fill_to_baseline(
        &mut self,
        points: &[(f64, f64)],
        baseline: f64,
        color: Rgb,
        alpha: f64,
    ) {
        if !baseline.is_finite() {
            return;
        }
        let w = i64::from(self.width);
        let mut extreme: Vec<Option<f64>> = vec![None; self.width as usize];
        let mut keep = |col: i64, y: f64| {
            if col < 0 || col >= w || !y.is_finite() {
                return;
            }
            if let Some(slot) = extreme.get_mut(col as usize) {
                let farther = match *slot {
                    Some(old) => (y - baseline).abs() > (old - baseline).abs(),
                    None => true,
                };
                if farther {
                    *slot = Some(y);
                }
            }
        };
        let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
        for (i, p) in points.iter().enumerate() {
            if !finite(p) {
                continue;
            }
            keep(p.0.floor() as i64, p.1);
            let Some(q) = points.get(i + 1).filter(|q| finite(q)) else {
                continue;
            };
            let (left, right) = if p.0 <= q.0 { (*p, *q) } else { (*q, *p) };
            if right.0 < 0.0 || left.0 >= w as f64 {
                continue;
            }
            let c0 = (left.0.floor() as i64).max(0);
            let c1 = (right.0.floor() as i64).min(w - 1);
            let run = right.0 - left.0;
            let y_at = |x: f64| {
                if run > 0.0 {
                    left.1 + (right.1 - left.1) * ((x - left.0) / run)
                } else {
                    left.1
                }
            };
            for col in c0..=c1 {
                let xa = left.0.max(col as f64);
                let xb = right.0.min(col as f64 + 1.0);
                keep(col, y_at(xa));
                keep(col, y_at(xb));
            }
        }
        let h = f64::from(self.height);
        for (col, slot) in extreme.iter().enumerate() {
            let Some(y) = *slot else { continue };
            let lo = y.min(baseline).max(-1.0);
            let hi = y.max(baseline).min(h + 1.0);
            let r0 = (lo - 0.5).ceil() as i64;
            let r1 = (hi - 0.5).floor() as i64;
            for row in r0..=r1 {
                self.blend(col as i64, row, color, alpha);
            }
        }
    }

    /// Fills a triangle, anti-aliased by 4×4 supersampling.
    pub fn fill_triangle(&mut self, a: (f64, f64), b: (f64, f64), c: (f64, f64), color: Rgb) {
        let pts = [a, b, c];
        if pts.iter().any(|p| !(p.0.is_finite() && p.1.is_finite())) {
            return;
        }
        let edge = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
            (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0)
        };
        if edge(a, b, c).abs() < 1e-12 {
            return;
        }
        let (x0, x1, y0, y1) = self.clipped_bounds(
            a.0.min(b.0).min(c.0),
            a.0.max(b.0).max(c.0),
            a.1.min(b.1).min(c.1),
            a.1.max(b.1).max(c.1),
        );
        for py in y0..y1 {
            for px in x0..x1 {
                let mut hits = 0u32;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let q = (
                            px as f64 + (f64::from(sx) + 0.5) / 4.0,
                            py as f64 + (f64::from(sy) + 0.5) / 4.0,
                        );
                        let e0 = edge(b, c, q);
                        let e1 = edge(c, a, q);
                        let e2 = edge(a, b, q);
                        let inside = (e0 >= 0.0 && e1 >= 0.0 && e2 >= 0.0)
                            || (e0 <= 0.0 && e1 <= 0.0 && e2 <= 0.0);
                        if inside {
                            hits += 1;
                        }
                    }
                }
                self.blend(px, py, color, f64::from(hits) / 16.0);
            }
        }
    }

    /// Fills an anti-aliased disc of radius `r` centred on (cx, cy).
    pub fn fill_circle(&mut self, cx: f64, cy: f64, r: f64, color: Rgb) {
        if !(cx.is_finite() && cy.is_finite() && r.is_finite() && r > 0.0) {
            return;
        }
        let (x0, x1, y0, y1) =
            self.clipped_bounds(cx - r - 1.0, cx + r + 1.0, cy - r - 1.0, cy + r + 1.0);
        for py in y0..y1 {
            for px in x0..x1 {
                let d = ((px as f64 + 0.5 - cx).powi(2) + (py as f64 + 0.5 - cy).powi(2)).sqrt();
                self.blend(px, py, color, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// Integer pixel bounds `[x0, x1) × [y0, y1)` covering a box, clipped to the canvas.
    fn clipped_bounds(&self, xmin: f64, xmax: f64, ymin: f64, ymax: f64) -> (i64, i64, i64, i64) {
        let w = i64::from(self.width);
        let h = i64::from(self.height);
        let x0 = (xmin.floor() as i64).clamp(0, w);
        let x1 = (xmax.ceil() as i64).saturating_add(1).clamp(0, w);
        let y0 = (ymin.floor() as i64).clamp(0, h);
        let y1 = (ymax.ceil() as i64).saturating_add(1).clamp(0, h);
        (x0, x1, y0, y1)
    }

    /// Draws a marker of "radius" `size` centred on (x, y), optionally with a 1.5-pixel
    /// `outline` around it so it stands out on top of lines.
    pub fn marker(
        &mut self,
        x: f64,
        y: f64,
        shape: MarkerShape,
        size: f64,
        fill: Rgb,
        outline: Option<Rgb>,
    ) {
        let size = if size.is_finite() {
            size.clamp(1.0, 64.0)
        } else {
            5.0
        };
        if let Some(o) = outline {
            self.marker_shape(x, y, shape, size + 2.0, o);
        }
        self.marker_shape(x, y, shape, size, fill);
    }

    fn marker_shape(&mut self, x: f64, y: f64, shape: MarkerShape, r: f64, color: Rgb) {
        // Triangles are shifted so their centroid sits on (x, y).
        match shape {
            MarkerShape::TriangleUp => self.fill_triangle(
                (x, y - r * 1.1),
                (x - r, y + r * 0.65),
                (x + r, y + r * 0.65),
                color,
            ),
            MarkerShape::TriangleDown => self.fill_triangle(
                (x, y + r * 1.1),
                (x - r, y - r * 0.65),
                (x + r, y - r * 0.65),
                color,
            ),
            MarkerShape::Circle => self.fill_circle(x, y, r * 0.8, color),
        }
    }

    /// Writes `text` with its top-left corner at (x, y) in the built-in font, each font pixel
    /// drawn as a `scale`×`scale` square (`scale` clamped to `1..=4`). Characters outside ASCII
    /// 32..=126 are drawn as `?`. The text occupies [`text_width`] × `TEXT_HEIGHT * scale`
    /// pixels.
    pub fn text(&mut self, x: i32, y: i32, text: &str, color: Rgb, scale: u32) {
        let s = i64::from(scale.clamp(1, 4));
        let mut pen = i64::from(x);
        let top = i64::from(y);
        for ch in text.chars() {
            let (bits, left, width) = glyph(ch);
            for (row, line) in bits.iter().enumerate() {
                for col in 0..width {
                    if line & (0b10000 >> (left + col)) != 0 {
                        self.fill_square(pen + i64::from(col) * s, top + row as i64 * s, s, color);
                    }
                }
            }
            pen += (i64::from(width) + 1) * s;
            if pen > i64::from(self.width) + 8 {
                break;
            }
        }
    }

    /// Writes `text` rotated a quarter turn counter-clockwise (reading bottom to top), starting
    /// at (x, y), which becomes the bottom-left corner of the rotated text box. The box is
    /// `TEXT_HEIGHT * scale` wide and [`text_width`] tall.
    pub fn text_up(&mut self, x: i32, y: i32, text: &str, color: Rgb, scale: u32) {
        let s = i64::from(scale.clamp(1, 4));
        let mut pen = i64::from(y);
        let left_edge = i64::from(x);
        for ch in text.chars() {
            let (bits, left, width) = glyph(ch);
            for (row, line) in bits.iter().enumerate() {
                for col in 0..width {
                    if line & (0b10000 >> (left + col)) != 0 {
                        let px = left_edge + row as i64 * s;
                        let py = pen - (i64::from(col) + 1) * s;
                        self.fill_square(px, py, s, color);
                    }
                }
            }
            pen -= (i64::from(width) + 1) * s;
            if pen < -8 {
                break;
            }
        }
    }

    fn fill_square(&mut self, x: i64, y: i64, s: i64, color: Rgb) {
        for yy in y..y + s {
            for xx in x..x + s {
                self.put(xx, yy, color);
            }
        }
    }

    /// Writes `text` so that (x, y) is its anchor: `align` picks left, centre or right, and `y`
    /// is the vertical middle of the capitals.
    fn label(&mut self, x: i32, y: i32, text: &str, color: Rgb, scale: u32, align: Align) {
        let w = text_width(text, scale);
        let left = match align {
            Align::Left => x,
            Align::Center => x.saturating_sub(w / 2),
            Align::Right => x.saturating_sub(w),
        };
        let s = scale.clamp(1, 4) as i32;
        self.text(left, y.saturating_sub(7 * s / 2), text, color, scale);
    }
}

/// Horizontal text alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Align {
    Left,
    Center,
    Right,
}

/// Liang–Barsky clipping of a segment to a rectangle.
#[allow(clippy::too_many_arguments)]
fn clip_segment(
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    xmin: f64,
    ymin: f64,
    xmax: f64,
    ymax: f64,
) -> Option<(f64, f64, f64, f64)> {
    let dx = x1 - x0;
    let dy = y1 - y0;
    if !(dx.is_finite() && dy.is_finite()) {
        return None;
    }
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [
        (-dx, x0 - xmin),
        (dx, xmax - x0),
        (-dy, y0 - ymin),
        (dy, ymax - y0),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                if r > t1 {
                    return None;
                }
                t0 = t0.max(r);
            } else {
                if r < t0 {
                    return None;
                }
                t1 = t1.min(r);
            }
        }
    }
    Some((x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy))
}

// =============================================================================================
// Bitmap font
// =============================================================================================

/// Height in pixels of one line of text at scale 1: 7 rows for capitals and digits plus one
/// descender row.
pub const TEXT_HEIGHT: i32 = 8;

/// Width in pixels of `text` drawn by [`Canvas::text`] at `scale` (clamped to `1..=4`).
/// Digits are all 5 pixels wide (so numbers line up); other glyphs are as wide as their ink,
/// and a space is 3; one blank column separates characters.
pub fn text_width(text: &str, scale: u32) -> i32 {
    let s = i64::from(scale.clamp(1, 4));
    let mut total: i64 = 0;
    for ch in text.chars() {
        total = total.saturating_add(i64::from(glyph(ch).2) + 1);
    }
    let px = (total - 1).max(0).saturating_mul(s);
    i32::try_from(px).unwrap_or(i32::MAX)
}

/// The glyph for `ch` (or `?`): its 8 rows (bit 4 = leftmost column), the first inked column
/// and the width drawn.
fn glyph(ch: char) -> (&'static [u8; 8], u32, u32) {
    let code = u32::from(ch);
    let index = if (32..=126).contains(&code) {
        code - 32
    } else {
        u32::from('?') - 32
    };
    let Some(bits) = FONT.get(index as usize) else {
        return (&FONT[0], 0, 3);
    };
    if ch.is_ascii_digit() {
        return (bits, 0, 5);
    }
    let ink = bits.iter().fold(0u8, |acc, row| acc | row) & 0b11111;
    if ink == 0 {
        return (bits, 0, 3);
    }
    // Column c is bit (4 - c); leading zeros of the 5-bit value give the first inked column.
    let first = ink.leading_zeros() - 3;
    let last = 4 - ink.trailing_zeros();
    (bits, first, last - first + 1)
}

/// Glyphs for ASCII 32..=126, designed for this module. Each row is 5 bits, the most significant
/// bit being the leftmost column; rows 0..=6 hold capitals and digits, row 7 descenders.
#[rustfmt::skip]
const FONT: [[u8; 8]; 95] = [
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // ' '
    [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100, 0b00000], // '!'
    [0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '"'
    [0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010, 0b00000], // '#'
    [0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100, 0b00000], // '$'
    [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011, 0b00000], // '%'
    [0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101, 0b00000], // '&'
    [0b00100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '\''
    [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010, 0b00000], // '('
    [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000, 0b00000], // ')'
    [0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000, 0b00000], // '*'
    [0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000, 0b00000], // '+'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000], // ','
    [0b00000, 0b00000, 0b00000, 0b11110, 0b00000, 0b00000, 0b00000, 0b00000], // '-'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11000, 0b11000, 0b00000], // '.'
    [0b00001, 0b00010, 0b00010, 0b00100, 0b01000, 0b01000, 0b10000, 0b00000], // '/'
    [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, 0b00000], // '0'
    [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000], // '1'
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000], // '2'
    [0b01110, 0b10001, 0b00001, 0b00110, 0b00001, 0b10001, 0b01110, 0b00000], // '3'
    [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, 0b00000], // '4'
    [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, 0b00000], // '5'
    [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, 0b00000], // '6'
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00000], // '7'
    [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, 0b00000], // '8'
    [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, 0b00000], // '9'
    [0b00000, 0b11000, 0b11000, 0b00000, 0b11000, 0b11000, 0b00000, 0b00000], // ':'
    [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000, 0b00000], // ';'
    [0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00000], // '<'
    [0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000], // '='
    [0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000, 0b00000], // '>'
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100, 0b00000], // '?'
    [0b01110, 0b10001, 0b10111, 0b10101, 0b10111, 0b10000, 0b01111, 0b00000], // '@'
    [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000], // 'A'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, 0b00000], // 'B'
    [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000], // 'C'
    [0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110, 0b00000], // 'D'
    [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, 0b00000], // 'E'
    [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000], // 'F'
    [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, 0b00000], // 'G'
    [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000], // 'H'
    [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000], // 'I'
    [0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, 0b00000], // 'J'
    [0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, 0b00000], // 'K'
    [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, 0b00000], // 'L'
    [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, 0b00000], // 'M'
    [0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b00000], // 'N'
    [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000], // 'O'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000], // 'P'
    [0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, 0b00000], // 'Q'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, 0b00000], // 'R'
    [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, 0b00000], // 'S'
    [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000], // 'T'
    [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000], // 'U'
    [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000], // 'V'
    [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, 0b00000], // 'W'
    [0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, 0b00000], // 'X'
    [0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000], // 'Y'
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, 0b00000], // 'Z'
    [0b11100, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11100, 0b00000], // '['
    [0b10000, 0b01000, 0b01000, 0b00100, 0b00010, 0b00010, 0b00001, 0b00000], // '\\'
    [0b11100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b11100, 0b00000], // ']'
    [0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '^'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111], // '_'
    [0b01000, 0b00100, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '`'
    [0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0b00000], // 'a'
    [0b10000, 0b10000, 0b11110, 0b10001, 0b10001, 0b10001, 0b11110, 0b00000], // 'b'
    [0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000], // 'c'
    [0b00001, 0b00001, 0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00000], // 'd'
    [0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0b00000], // 'e'
    [0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000, 0b00000], // 'f'
    [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110], // 'g'
    [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000], // 'h'
    [0b01000, 0b00000, 0b11000, 0b01000, 0b01000, 0b01000, 0b11100, 0b00000], // 'i'
    [0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100], // 'j'
    [0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b00000], // 'k'
    [0b11000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b11100, 0b00000], // 'l'
    [0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10101, 0b10101, 0b00000], // 'm'
    [0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000], // 'n'
    [0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000], // 'o'
    [0b00000, 0b00000, 0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000], // 'p'
    [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001], // 'q'
    [0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000, 0b00000], // 'r'
    [0b00000, 0b00000, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110, 0b00000], // 's'
    [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110, 0b00000], // 't'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0b00000], // 'u'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000], // 'v'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010, 0b00000], // 'w'
    [0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b00000], // 'x'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110], // 'y'
    [0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000], // 'z'
    [0b00011, 0b00100, 0b00100, 0b11000, 0b00100, 0b00100, 0b00011, 0b00000], // '{'
    [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100], // '|'
    [0b11000, 0b00100, 0b00100, 0b00011, 0b00100, 0b00100, 0b11000, 0b00000], // '}'
    [0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000, 0b00000], // '~'
];

// =============================================================================================
// Ticks
// =============================================================================================

/// Tick values for an axis covering `lo..=hi`, spaced by a "nice" step (1, 2 or 5 times a power
/// of ten), at most `max_ticks` of them (clamped to `2..=100`).
///
/// The ticks cover the range: the first is `<= lo` and the last `>= hi`, so using the first and
/// last tick as axis limits shows all the data. The bounds may come in either order; non-finite
/// ones are replaced (both missing gives `0..=1`), and an empty range is widened around its value.
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    let (lo, hi) = sane_range(lo, hi);
    let max_ticks = max_ticks.clamp(2, 100);
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo, hi];
    }
    let mut step = nice_step(span / (max_ticks - 1) as f64);
    for _ in 0..8 {
        let first = (lo / step).floor();
        let last = (hi / step).ceil();
        let count = last - first + 1.0;
        if !(first.is_finite() && last.is_finite()) || first.abs().max(last.abs()) > 1e15 {
            // The step is lost in the magnitude of the bounds; nothing nice is possible.
            return vec![lo, hi];
        }
        if count <= max_ticks as f64 {
            return (0..count as usize)
                .map(|i| {
                    let v = (first + i as f64) * step;
                    if v == 0.0 {
                        0.0 // no "-0"
                    } else {
                        v
                    }
                })
                .collect();
        }
        step = nice_step(step * 1.5);
    }
    vec![lo, hi]
}

/// Ordered finite bounds with a non-empty span.
fn sane_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (0.0, 1.0),
    };
    if hi > lo {
        return (lo, hi);
    }
    let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.01 };
    (lo - pad, hi + pad)
}

/// The smallest 1-2-5 step that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
    if !(base.is_finite() && base > 0.0) {
        return raw;
    }
    let f = raw / base;
    let nice = if f <= 1.0 + 1e-9 {
        1.0
    } else if f <= 2.0 + 1e-9 {
        2.0
    } else if f <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// Number of decimals that shows a tick step exactly (0 for steps of 1 and above).
fn step_decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 {
        return 0;
    }
    (-(step.log10() + 1e-9).floor()).clamp(0.0, 12.0) as usize
}

/// A tick label for `value` on an axis whose ticks are `step` apart: just enough decimals to tell
/// neighbouring ticks apart (e.g. `61234.5`, `-3.2`, `10000`), scientific notation for huge or
/// tiny magnitudes, never `-0`.
pub fn format_tick(value: f64, step: f64) -> String {
    if !value.is_finite() {
        return String::from("?");
    }
    if value != 0.0 && (value.abs() >= 1e15 || value.abs() < 1e-9) {
        return format!("{value:.2e}");
    }
    let decimals = step_decimals(step);
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        return text[1..].to_string();
    }
    text
}

/// A value label with about four significant figures (for heatmap cells): `decimals` is chosen
/// by the caller from the largest magnitude shown.
fn format_value(value: f64, decimals: usize) -> String {
    if value != 0.0 && (value.abs() >= 1e9 || value.abs() < 1e-6) {
        return format!("{value:.1e}");
    }
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        return text[1..].to_string();
    }
    text
}

// =============================================================================================
// Time
// =============================================================================================

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 0000-01-01T00:00:00Z in unix milliseconds: earlier timestamps are clamped to it.
const MIN_TS: i64 = -62_167_219_200_000;
/// 9999-12-31T23:59:59.999Z in unix milliseconds: later timestamps are clamped to it.
const MAX_TS: i64 = 253_402_300_799_999;

/// Unix milliseconds clamped to years 0..=9999, where all date arithmetic here is exact.
fn clamp_ts(ts_ms: i64) -> i64 {
    ts_ms.clamp(MIN_TS, MAX_TS)
}

/// (year, month 1..=12, day 1..=31) of a count of days since 1970-01-01 (proleptic Gregorian).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of each 400-year cycle.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of `civil_from_days`).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Broken-down UTC time: (year, month, day, hour, minute, second).
fn utc_parts(ts_ms: i64) -> (i64, i64, i64, i64, i64, i64) {
    let ts = clamp_ts(ts_ms);
    let days = ts.div_euclid(DAY);
    let ms_of_day = ts.rem_euclid(DAY);
    let (y, mo, d) = civil_from_days(days);
    let secs = ms_of_day / SECOND;
    (y, mo, d, secs / 3600, secs / 60 % 60, secs % 60)
}

/// `YYYY-MM-DD HH:MM` in UTC for unix milliseconds (clamped to years 0..=9999).
pub fn format_utc(ts_ms: i64) -> String {
    TimeFormat::DateMinute.format(ts_ms)
}

/// How a time tick is labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeFormat {
    /// `HH:MM:SS`
    Second,
    /// `HH:MM`, or `MM-DD` on a midnight tick
    Minute,
    /// `MM-DD HH:MM`
    DayMinute,
    /// `YYYY-MM-DD HH:MM`
    DateMinute,
    /// `YYYY-MM-DD`
    Date,
    /// `YYYY-MM`
    Month,
    /// `YYYY`
    Year,
}

impl TimeFormat {
    fn format(self, ts_ms: i64) -> String {
        let (y, mo, d, h, mi, s) = utc_parts(ts_ms);
        match self {
            TimeFormat::Second => format!("{h:02}:{mi:02}:{s:02}"),
            TimeFormat::Minute if h == 0 && mi == 0 => format!("{mo:02}-{d:02}"),
            TimeFormat::Minute => format!("{h:02}:{mi:02}"),
            TimeFormat::DayMinute => format!("{mo:02}-{d:02} {h:02}:{mi:02}"),
            TimeFormat::DateMinute => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}"),
            TimeFormat::Date => format!("{y:04}-{mo:02}-{d:02}"),
            TimeFormat::Month => format!("{y:04}-{mo:02}"),
            TimeFormat::Year => format!("{y:04}"),
        }
    }
}

/// Spacing of time ticks.
#[derive(Clone, Copy, Debug)]
enum TimeStep {
    /// A fixed number of milliseconds, ticks at multiples of it since `offset`.
    Fixed { ms: i64, offset: i64 },
    /// Whole months, on months whose index (January = 0) is a multiple.
    Months(i64),
    /// Whole years, on years that are a multiple.
    Years(i64),
}

impl TimeStep {
    fn approx_ms(self) -> f64 {
        match self {
            TimeStep::Fixed { ms, .. } => ms as f64,
            TimeStep::Months(k) => k as f64 * 30.44 * DAY as f64,
            TimeStep::Years(k) => k as f64 * 365.25 * DAY as f64,
        }
    }
}

/// 1970-01-05, a Monday: weekly ticks fall on Mondays.
const MONDAY: i64 = 4 * DAY;

const TIME_STEPS: [TimeStep; 39] = [
    TimeStep::Fixed {
        ms: SECOND,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 2 * SECOND,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 5 * SECOND,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 10 * SECOND,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 15 * SECOND,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 30 * SECOND,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: MINUTE,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 2 * MINUTE,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 5 * MINUTE,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 10 * MINUTE,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 15 * MINUTE,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 30 * MINUTE,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: HOUR,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 2 * HOUR,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 3 * HOUR,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 6 * HOUR,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 12 * HOUR,
        offset: 0,
    },
    TimeStep::Fixed { ms: DAY, offset: 0 },
    TimeStep::Fixed {
        ms: 2 * DAY,
        offset: 0,
    },
    TimeStep::Fixed {
        ms: 7 * DAY,
        offset: MONDAY,
    },
    TimeStep::Fixed {
        ms: 14 * DAY,
        offset: MONDAY,
    },
    TimeStep::Months(1),
    TimeStep::Months(2),
    TimeStep::Months(3),
    TimeStep::Months(6),
    TimeStep::Years(1),
    TimeStep::Years(2),
    TimeStep::Years(5),
    TimeStep::Years(10),
    TimeStep::Years(20),
    TimeStep::Years(50),
    TimeStep::Years(100),
    TimeStep::Years(200),
    TimeStep::Years(500),
    TimeStep::Years(1_000),
    TimeStep::Years(2_000),
    TimeStep::Years(5_000),
    TimeStep::Years(10_000),
    TimeStep::Years(20_000),
];

/// Tick positions and labels for a UTC time axis from `t0_ms` to `t1_ms` (unix milliseconds,
/// either order, clamped to years 0..=9999), at most `max_ticks` of them (clamped to `2..=100`).
///
/// Ticks fall on round times (whole seconds, minutes, hours, days, Mondays, months or years) inside
/// the range. The label format follows the step and span: `HH:MM:SS` below a minute, `HH:MM`
/// within one day (midnight shows `MM-DD`), `MM-DD HH:MM` for intraday steps over several days,
/// `YYYY-MM-DD` for day and week steps, `YYYY-MM` for months and `YYYY` for years.
pub fn time_ticks(t0_ms: i64, t1_ms: i64, max_ticks: usize) -> Vec<(i64, String)> {
    let (a, b) = (clamp_ts(t0_ms), clamp_ts(t1_ms));
    let (t0, t1) = (a.min(b), a.max(b));
    let max_ticks = max_ticks.clamp(2, 100);
    let span = t1 - t0;
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| span as f64 / s.approx_ms() <= (max_ticks - 1) as f64)
        .unwrap_or(TimeStep::Years(20_000));
    let format = match step {
        TimeStep::Fixed { ms, .. } if ms < MINUTE => TimeFormat::Second,
        TimeStep::Fixed { ms, .. } if ms < DAY && span <= DAY => TimeFormat::Minute,
        TimeStep::Fixed { ms, .. } if ms < DAY => TimeFormat::DayMinute,
        TimeStep::Fixed { .. } => TimeFormat::Date,
        TimeStep::Months(_) => TimeFormat::Month,
        TimeStep::Years(_) => TimeFormat::Year,
    };
    let mut ticks = Vec::new();
    let mut push = |t: i64| {
        if (t0..=t1).contains(&t) && ticks.len() <= max_ticks {
            ticks.push((t, format.format(t)));
        }
    };
    match step {
        TimeStep::Fixed { ms, offset } => {
            let mut t = (t0 - offset).div_euclid(ms) * ms + offset;
            while t < t0 {
                t += ms;
            }
            for _ in 0..=max_ticks {
                push(t);
                t += ms;
            }
        }
        TimeStep::Months(k) => {
            let (y, mo, _) = civil_from_days(t0.div_euclid(DAY));
            let mut index = y * 12 + (mo - 1);
            index += (k - index.rem_euclid(k)) % k;
            for _ in 0..=max_ticks + 1 {
                let day = days_from_civil(index.div_euclid(12), index.rem_euclid(12) + 1, 1);
                push(day * DAY);
                index += k;
            }
        }
        TimeStep::Years(k) => {
            let (y, _, _) = civil_from_days(t0.div_euclid(DAY));
            let mut year = y + (k - y.rem_euclid(k)) % k;
            if year == y && days_from_civil(y, 1, 1) * DAY < t0 {
                year += k;
            }
            for _ in 0..=max_ticks {
                push(days_from_civil(year, 1, 1) * DAY);
                year += k;
            }
        }
    }
    ticks.truncate(max_ticks);
    ticks
}

// =============================================================================================
// Axes
// =============================================================================================

/// A plot rectangle on a canvas and the data ranges it shows.
///
/// The rectangle's pixels are columns `left..left + width` and rows `top..top + height`;
/// `x_min` maps to its left edge, `x_max` to its right edge, `y_min` to the bottom and `y_max` to
/// the top. An empty or non-finite range maps everything to the middle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axes {
    /// First pixel column of the plot area.
    pub left: i32,
    /// First pixel row of the plot area.
    pub top: i32,
    /// Width of the plot area in pixels.
    pub width: i32,
    /// Height of the plot area in pixels.
    pub height: i32,
    /// Data value at the left edge.
    pub x_min: f64,
    /// Data value at the right edge.
    pub x_max: f64,
    /// Data value at the bottom edge.
    pub y_min: f64,
    /// Data value at the top edge.
    pub y_max: f64,
}

impl Axes {
    /// Horizontal canvas coordinate of data value `x`.
    pub fn x_px(&self, x: f64) -> f64 {
        let span = self.x_max - self.x_min;
        let frac = if span.is_finite() && span > 0.0 {
            (x - self.x_min) / span
        } else {
            0.5
        };
        f64::from(self.left) + frac * f64::from(self.width)
    }

    /// Vertical canvas coordinate of data value `y`.
    pub fn y_px(&self, y: f64) -> f64 {
        let span = self.y_max - self.y_min;
        let frac = if span.is_finite() && span > 0.0 {
            (y - self.y_min) / span
        } else {
            0.5
        };
        f64::from(self.top) + (1.0 - frac) * f64::from(self.height)
    }

    /// Pixel column of data value `x`, kept inside the plot area.
    fn x_col(&self, x: f64) -> i32 {
        let right = self.left.saturating_add(self.width.max(1) - 1);
        (self.x_px(x).floor() as i32).clamp(self.left, right)
    }

    /// Pixel row of data value `y`, kept inside the plot area.
    fn y_row(&self, y: f64) -> i32 {
        let bottom = self.top.saturating_add(self.height.max(1) - 1);
        (self.y_px(y).floor() as i32).clamp(self.top, bottom)
    }

    /// Whether `x` lies in the shown x range (with a little tolerance for rounding).
    fn shows_x(&self, x: f64) -> bool {
        in_range(x, self.x_min, self.x_max)
    }

    /// Whether `y` lies in the shown y range (with a little tolerance for rounding).
    fn shows_y(&self, y: f64) -> bool {
        in_range(y, self.y_min, self.y_max)
    }

    /// Fills the plot area with `background` and draws a frame just outside it.
    pub fn draw_frame(&self, canvas: &mut Canvas, background: Rgb) {
        canvas.fill_rect(self.left, self.top, self.width, self.height, background);
        self.stroke_frame(canvas);
    }

    fn stroke_frame(&self, canvas: &mut Canvas) {
        canvas.stroke_rect(
            self.left.saturating_sub(1),
            self.top.saturating_sub(1),
            self.width.saturating_add(2),
            self.height.saturating_add(2),
            FRAME,
        );
    }

    /// Draws a horizontal gridline across the plot area at each y value inside the y range.
    pub fn draw_y_grid(&self, canvas: &mut Canvas, ys: &[f64], color: Rgb) {
        for &y in ys.iter().filter(|&&y| self.shows_y(y)) {
            canvas.fill_rect(self.left, self.y_row(y), self.width, 1, color);
        }
    }

    /// Draws a vertical gridline down the plot area at each x value inside the x range.
    pub fn draw_x_grid(&self, canvas: &mut Canvas, xs: &[f64], color: Rgb) {
        for &x in xs.iter().filter(|&&x| self.shows_x(x)) {
            canvas.fill_rect(self.x_col(x), self.top, 1, self.height, color);
        }
    }

    /// Writes tick labels right-aligned just left of the plot area, each centred on its y value;
    /// values outside the y range are skipped.
    pub fn draw_y_labels(&self, canvas: &mut Canvas, ticks: &[(f64, String)]) {
        for (y, text) in ticks.iter().filter(|(y, _)| self.shows_y(*y)) {
            let row = self.y_row(*y);
            canvas.fill_rect(self.left.saturating_sub(5), row, 4, 1, FRAME);
            canvas.label(
                self.left.saturating_sub(9),
                row,
                text,
                TEXT,
                1,
                Align::Right,
            );
        }
    }

    /// Writes tick labels centred below the plot area at their x values, skipping values outside
    /// the x range and labels that would overlap the previous one, and nudging the outermost ones
    /// inside the canvas.
    pub fn draw_x_labels(&self, canvas: &mut Canvas, ticks: &[(f64, String)]) {
        let mut last_right = i32::MIN;
        let canvas_w = i32::try_from(canvas.width()).unwrap_or(i32::MAX);
        let bottom = self.top.saturating_add(self.height);
        let top = bottom.saturating_add(7);
        for (x, text) in ticks.iter().filter(|(x, _)| self.shows_x(*x)) {
            let col = self.x_col(*x);
            let w = text_width(text, 1);
            let left = col
                .saturating_sub(w / 2)
                .clamp(2, canvas_w.saturating_sub(w).saturating_sub(2).max(2));
            if left < last_right.saturating_add(12) {
                continue;
            }
            canvas.fill_rect(col, bottom.saturating_add(1), 1, 4, FRAME);
            canvas.text(left, top, text, TEXT, 1);
            last_right = left.saturating_add(w);
        }
    }
}

/// Whether finite `v` lies in `lo..=hi`, give or take a millionth of the span. An empty or
/// non-finite range shows only finite values.
fn in_range(v: f64, lo: f64, hi: f64) -> bool {
    if !v.is_finite() {
        return false;
    }
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return true;
    }
    let eps = span * 1e-6;
    v >= lo - eps && v <= hi + eps
}

// =============================================================================================
// Series helpers
// =============================================================================================

/// Reduces a polyline to at most four points per pixel column (the first, lowest, highest and
/// last point of each run of consecutive points in one column, in their original order), keeping
/// non-finite points as single breaks. The drawn shape is the same as the full polyline's.
#[derive(Debug, Default)]
struct Decimator {
    out: Vec<(f64, f64)>,
    bucket: Option<Bucket>,
    seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    column: i64,
    first: (u64, (f64, f64)),
    low: (u64, (f64, f64)),
    high: (u64, (f64, f64)),
    last: (u64, (f64, f64)),
}

impl Decimator {
    fn push(&mut self, x: f64, y: f64) {
        self.seq += 1;
        let seq = self.seq;
        if !(x.is_finite() && y.is_finite()) {
            self.flush();
            if self.out.last().is_some_and(|p| p.0.is_finite()) {
                self.out.push((f64::NAN, f64::NAN));
            }
            return;
        }
        let column = x.floor() as i64;
        let point = (seq, (x, y));
        match &mut self.bucket {
            Some(b) if b.column == column => {
                if y < b.low.1 .1 {
                    b.low = point;
                }
                if y > b.high.1 .1 {
                    b.high = point;
                }
                b.last = point;
            }
            _ => {
                self.flush();
                self.bucket = Some(Bucket {
                    column,
                    first: point,
                    low: point,
                    high: point,
                    last: point,
                });
            }
        }
    }

    fn flush(&mut self) {
        let Some(b) = self.bucket.take() else { return };
        let mut pts = [b.first, b.low, b.high, b.last];
        pts.sort_by_key(|p| p.0);
        let mut prev = 0u64;
        for (seq, p) in pts {
            if seq != prev {
                self.out.push(p);
                prev = seq;
            }
        }
    }

    fn finish(mut self) -> Vec<(f64, f64)> {
        self.flush();
        self.out
    }
}

/// Canvas points of a time series on `axes`, decimated per pixel column. Non-finite values
/// become breaks.
fn series_points(axes: &Axes, ts: &[i64], values: &[f64]) -> Vec<(f64, f64)> {
    let mut d = Decimator::default();
    for (&t, &v) in ts.iter().zip(values) {
        let y = if v.is_finite() {
            axes.y_px(v)
        } else {
            f64::NAN
        };
        d.push(axes.x_px(clamp_ts(t) as f64), y);
    }
    d.finish()
}

/// Smallest and largest finite values across several series, or `None` if there are none.
fn finite_range<'a>(series: impl IntoIterator<Item = &'a [f64]>) -> Option<(f64, f64)> {
    let mut range: Option<(f64, f64)> = None;
    for s in series {
        for &v in s.iter().filter(|v| v.is_finite()) {
            range = Some(match range {
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
                None => (v, v),
            });
        }
    }
    range
}

/// Time range of the timestamps (clamped), or `None` if there are none.
fn time_range(ts: &[i64]) -> Option<(i64, i64)> {
    let lo = ts.iter().map(|&t| clamp_ts(t)).min()?;
    let hi = ts.iter().map(|&t| clamp_ts(t)).max()?;
    Some((lo, hi))
}

/// A time range with some width: a single instant is widened by a minute each side.
fn widen_time(range: (i64, i64)) -> (i64, i64) {
    if range.1 > range.0 {
        range
    } else {
        (range.0 - MINUTE, range.1 + MINUTE)
    }
}

/// A time range widened by `frac` of its span on each side (kept within years 0..=9999).
fn pad_time(range: (i64, i64), frac: f64) -> (i64, i64) {
    let pad = ((range.1 - range.0) as f64 * frac) as i64;
    (clamp_ts(range.0 - pad), clamp_ts(range.1 + pad))
}

/// `text`, cut and ended with ".." if needed so it is at most `max_w` pixels wide at `scale`.
fn fit_text(text: &str, max_w: i32, scale: u32) -> String {
    if text_width(text, scale) <= max_w {
        return text.to_string();
    }
    // No glyph is narrower than 2 pixels with its gap, so longer prefixes cannot fit.
    let max_chars = usize::try_from(max_w / 2).unwrap_or(0) + 1;
    let mut out: String = text.chars().take(max_chars).collect();
    while !out.is_empty() {
        out.pop();
        let candidate = format!("{}..", out.trim_end());
        if text_width(&candidate, scale) <= max_w {
            return candidate;
        }
    }
    String::new()
}

// =============================================================================================
// Chart furniture
// =============================================================================================

/// Width of the equity and price charts, in pixels.
pub const CHART_WIDTH: u32 = 1200;
/// Height of the equity and price charts, in pixels.
pub const CHART_HEIGHT: u32 = 700;

const PAD: i32 = 16;
const TITLE_SCALE: u32 = 2;
/// Baseline row of the header: the title's capitals are centred on it.
const HEADER_MID: i32 = 22;

/// What a legend entry shows before its label.
#[derive(Clone, Copy, Debug)]
enum Swatch {
    Line(Rgb),
    Area(Rgb),
    Marker(MarkerShape, Rgb),
}

/// Draws the title (left) and legend (right) and returns the first row below them.
fn draw_header(canvas: &mut Canvas, title: &str, legend: &[(Swatch, String)]) -> i32 {
    let width = i32::try_from(canvas.width()).unwrap_or(i32::MAX);
    let entry_w = |label: &str| 22 + 6 + text_width(label, 1);
    let legend_w: i32 = legend.iter().map(|(_, l)| entry_w(l) + 18).sum::<i32>()
        - if legend.is_empty() { 0 } else { 18 };
    let title_w = text_width(title, TITLE_SCALE);
    let one_row = title_w + 32 + legend_w <= width - 2 * PAD;
    let title = fit_text(title, width - 2 * PAD, TITLE_SCALE);
    canvas.label(PAD, HEADER_MID, &title, TITLE, TITLE_SCALE, Align::Left);
    let (mut x, mid, bottom) = if one_row {
        (width - PAD - legend_w, HEADER_MID, 44)
    } else {
        ((width - PAD - legend_w).max(PAD), HEADER_MID + 22, 62)
    };
    for (swatch, label) in legend {
        let cx = f64::from(x) + 11.0;
        let cy = f64::from(mid) + 0.5;
        match *swatch {
            Swatch::Line(c) => canvas.line(f64::from(x), cy, f64::from(x + 22), cy, c, 2.0),
            Swatch::Area(c) => {
                canvas.blend_rect(x, mid - 5, 22, 11, c, 0.35);
                canvas.fill_rect(x, mid - 5, 22, 2, c);
            }
            Swatch::Marker(shape, c) => canvas.marker(cx, cy, shape, 5.0, c, None),
        }
        canvas.label(x + 28, mid, label, TEXT, 1, Align::Left);
        x += entry_w(label) + 18;
    }
    bottom
}

/// Writes "no data" in the middle of a plot area.
fn draw_no_data(canvas: &mut Canvas, axes: &Axes) {
    canvas.label(
        axes.left + axes.width / 2,
        axes.top + axes.height / 2,
        "no data",
        MUTED,
        2,
        Align::Center,
    );
}

/// Numeric y ticks and their labels (with `suffix`) for a data range, at one per ~32 pixels.
fn y_ticks(range: (f64, f64), height: i32, suffix: &str) -> Vec<(f64, String)> {
    let max = usize::try_from(height / 32).unwrap_or(2).clamp(2, 12);
    let ticks = nice_ticks(range.0, range.1, max);
    let step = if ticks.len() >= 2 {
        ticks[1] - ticks[0]
    } else {
        1.0
    };
    ticks
        .iter()
        .map(|&v| (v, format!("{}{suffix}", format_tick(v, step))))
        .collect()
}

/// `range` widened by `frac` of its span on each side, so data does not touch the frame.
fn pad_range(range: (f64, f64), frac: f64) -> (f64, f64) {
    let span = range.1 - range.0;
    if span.is_finite() && span > 0.0 {
        let (lo, hi) = (range.0 - span * frac, range.1 + span * frac);
        if lo.is_finite() && hi.is_finite() {
            return (lo, hi);
        }
    }
    range
}

/// Axis limits spanning a tick list (first to last).
fn tick_limits(ticks: &[(f64, String)], fallback: (f64, f64)) -> (f64, f64) {
    match (ticks.first(), ticks.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        _ => fallback,
    }
}

fn max_label_width(ticks: &[(f64, String)]) -> i32 {
    ticks
        .iter()
        .map(|(_, s)| text_width(s, 1))
        .max()
        .unwrap_or(0)
}

/// Time ticks for a plot of the given width, as (x value, label) pairs.
fn x_time_ticks(range: (i64, i64), width: i32) -> Vec<(f64, String)> {
    let max = usize::try_from(width / 110).unwrap_or(2).clamp(2, 14);
    time_ticks(range.0, range.1, max)
        .into_iter()
        .map(|(t, s)| (t as f64, s))
        .collect()
}

/// Writes the UTC span of the time axis under its right end.
fn draw_time_caption(canvas: &mut Canvas, axes: &Axes, range: (i64, i64)) {
    let text = format!("UTC  {}  to  {}", format_utc(range.0), format_utc(range.1));
    let y = axes.top + axes.height + 7 + TEXT_HEIGHT + 12;
    canvas.label(axes.left + axes.width, y, &text, MUTED, 1, Align::Right);
}

// =============================================================================================
// Charts
// =============================================================================================

/// Equity curve with an optional benchmark and a drawdown panel, as PNG bytes
/// ([`CHART_WIDTH`] × [`CHART_HEIGHT`]).
///
/// The top ~70% shows `equity` (blue) and, if given, `benchmark` (orange, e.g. buy-and-hold),
/// both against `ts_ms` (unix milliseconds, UTC). The bottom panel shows `drawdown_pct` as a
/// filled red area from 0 down to the deepest drawdown; values are percent below the running
/// peak (`-12.5` means 12.5% down) and are drawn as `-|v|`, so positive magnitudes work too. The
/// panels share the time axis.
///
/// Each series is paired with `ts_ms` up to the shorter length; NaN and infinite values leave
/// gaps. Empty input draws the frame with "no data".
pub fn equity_chart(
    title: &str,
    ts_ms: &[i64],
    equity: &[f64],
    benchmark: Option<&[f64]>,
    drawdown_pct: &[f64],
) -> Vec<u8> {
    let n_eq = ts_ms.len().min(equity.len());
    let bench = benchmark.map(|b| &b[..ts_ms.len().min(b.len())]);
    let n_dd = ts_ms.len().min(drawdown_pct.len());
    let equity = &equity[..n_eq];
    let dd: Vec<f64> = drawdown_pct[..n_dd].iter().map(|v| -v.abs()).collect();
    let n_any = n_eq.max(bench.map_or(0, <[f64]>::len)).max(n_dd);
    let t_range = time_range(&ts_ms[..n_any]);

    let deepest = finite_range([dd.as_slice()]).map(|r| r.0);
    let mut legend = vec![(Swatch::Line(BLUE), String::from("equity"))];
    if bench.is_some() {
        legend.push((Swatch::Line(ORANGE), String::from("buy & hold")));
    }
    legend.push((
        Swatch::Area(RED),
        match deepest {
            Some(d) => format!("drawdown (max {}%)", format_tick(d, 0.1)),
            None => String::from("drawdown"),
        },
    ));

    let mut canvas = Canvas::new(CHART_WIDTH, CHART_HEIGHT, BACKGROUND);
    let top = draw_header(&mut canvas, title, &legend) + 8;
    let bottom = CHART_HEIGHT as i32 - 46;
    let gap = 16;
    let total_h = bottom - top - gap;
    let eq_h = total_h * 7 / 10;
    let dd_h = total_h - eq_h;

    let eq_range = finite_range(std::iter::once(equity).chain(bench));
    let eq_ticks = match eq_range {
        Some(r) => y_ticks(pad_range(r, 0.03), eq_h, ""),
        None => Vec::new(),
    };
    let dd_ticks = match deepest {
        // A flat zero drawdown still gets a 0..-1% axis.
        Some(d) => y_ticks((d.min(-1.0), 0.0), dd_h, "%"),
        None => Vec::new(),
    };
    let label_w = max_label_width(&eq_ticks).max(max_label_width(&dd_ticks));
    let left = (PAD + label_w + 12).max(60);
    let width = CHART_WIDTH as i32 - left - 24;

    let (eq_lo, eq_hi) = tick_limits(&eq_ticks, (0.0, 1.0));
    let (dd_lo, _) = tick_limits(&dd_ticks, (-1.0, 0.0));
    let (t0, t1) = widen_time(t_range.unwrap_or((0, DAY)));
    let x_ticks = match t_range {
        Some(_) => x_time_ticks((t0, t1), width),
        None => Vec::new(),
    };
    let eq_axes = Axes {
        left,
        top,
        width,
        height: eq_h,
        x_min: t0 as f64,
        x_max: t1 as f64,
        y_min: eq_lo,
        y_max: eq_hi,
    };
    let dd_axes = Axes {
        top: top + eq_h + gap,
        height: dd_h,
        y_min: dd_lo,
        y_max: 0.0,
        ..eq_axes
    };
    let x_values: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
    for (axes, ticks) in [(&eq_axes, &eq_ticks), (&dd_axes, &dd_ticks)] {
        axes.draw_frame(&mut canvas, PLOT_BG);
        let ys: Vec<f64> = ticks.iter().map(|t| t.0).collect();
        axes.draw_y_grid(&mut canvas, &ys, GRID);
        axes.draw_x_grid(&mut canvas, &x_values, GRID);
        axes.draw_y_labels(&mut canvas, ticks);
    }

    if eq_range.is_some() {
        if let Some(b) = bench {
            let pts = series_points(&eq_axes, ts_ms, b);
            canvas.polyline(&pts, ORANGE, 1.5);
        }
        let pts = series_points(&eq_axes, ts_ms, equity);
        canvas.polyline(&pts, BLUE, 1.5);
    } else {
        draw_no_data(&mut canvas, &eq_axes);
    }
    if dd.iter().any(|v| v.is_finite()) {
        let pts = series_points(&dd_axes, ts_ms, &dd);
        canvas.fill_to_baseline(&pts, dd_axes.y_px(0.0), RED, 0.3);
        canvas.polyline(&pts, RED, 1.0);
    } else {
        draw_no_data(&mut canvas, &dd_axes);
    }
    eq_axes.stroke_frame(&mut canvas);
    dd_axes.stroke_frame(&mut canvas);
    dd_axes.draw_x_labels(&mut canvas, &x_ticks);
    if let Some(r) = t_range {
        draw_time_caption(&mut canvas, &dd_axes, r);
    }
    canvas.to_png()
}

/// A trade event to mark on a [`price_chart`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mark {
    /// When it happened, unix milliseconds (UTC).
    pub ts_ms: i64,
    /// The price it happened at.
    pub price: f64,
    /// What happened.
    pub kind: MarkKind,
}

/// Kind of a [`Mark`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A long position was opened: green triangle pointing up.
    EnterLong,
    /// A short position was opened: red triangle pointing down.
    EnterShort,
    /// A position was closed: black circle.
    Exit,
}

impl MarkKind {
    fn style(self) -> (MarkerShape, Rgb) {
        match self {
            MarkKind::EnterLong => (MarkerShape::TriangleUp, GREEN),
            MarkKind::EnterShort => (MarkerShape::TriangleDown, RED),
            MarkKind::Exit => (MarkerShape::Circle, BLACK),
        }
    }
}

/// Price line with trade marks and a legend, as PNG bytes ([`CHART_WIDTH`] × [`CHART_HEIGHT`]).
///
/// `price` is paired with `ts_ms` (unix milliseconds, UTC) up to the shorter length; NaN and
/// infinite prices leave gaps. Each [`Mark`] is drawn at its time and price: entering long as a
/// green up-triangle, entering short as a red down-triangle, exits as black circles. The axes
/// cover both the prices and the marks; marks with a non-finite price are skipped.
pub fn price_chart(title: &str, ts_ms: &[i64], price: &[f64], marks: &[Mark]) -> Vec<u8> {
    let n = ts_ms.len().min(price.len());
    let (ts, price) = (&ts_ms[..n], &price[..n]);
    let marks: Vec<Mark> = marks
        .iter()
        .copied()
        .filter(|m| m.price.is_finite())
        .collect();
    let mark_ts: Vec<i64> = marks.iter().map(|m| m.ts_ms).collect();
    let mark_px: Vec<f64> = marks.iter().map(|m| m.price).collect();
    let t_range = match (time_range(ts), time_range(&mark_ts)) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, b) => a.or(b),
    };
    let y_range = finite_range([price, mark_px.as_slice()]);

    let count = |k: MarkKind| marks.iter().filter(|m| m.kind == k).count();
    let mut legend = vec![(Swatch::Line(BLUE), String::from("price"))];
    for (kind, name) in [
        (MarkKind::EnterLong, "enter long"),
        (MarkKind::EnterShort, "enter short"),
        (MarkKind::Exit, "exit"),
    ] {
        let (shape, color) = kind.style();
        legend.push((
            Swatch::Marker(shape, color),
            format!("{name} ({})", count(kind)),
        ));
    }

    let mut canvas = Canvas::new(CHART_WIDTH, CHART_HEIGHT, BACKGROUND);
    let top = draw_header(&mut canvas, title, &legend) + 8;
    let height = CHART_HEIGHT as i32 - 46 - top;
    let y_ticks = match y_range {
        Some(r) => y_ticks(pad_range(r, 0.03), height, ""),
        None => Vec::new(),
    };
    let left = (PAD + max_label_width(&y_ticks) + 12).max(60);
    let width = CHART_WIDTH as i32 - left - 24;
    let (y_lo, y_hi) = tick_limits(&y_ticks, (0.0, 1.0));
    let (t0, t1) = pad_time(widen_time(t_range.unwrap_or((0, DAY))), 0.015);
    let axes = Axes {
        left,
        top,
        width,
        height,
        x_min: t0 as f64,
        x_max: t1 as f64,
        y_min: y_lo,
        y_max: y_hi,
    };
    let x_ticks = match t_range {
        Some(_) => x_time_ticks((t0, t1), width),
        None => Vec::new(),
    };
    axes.draw_frame(&mut canvas, PLOT_BG);
    let ys: Vec<f64> = y_ticks.iter().map(|t| t.0).collect();
    let xs: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
    axes.draw_y_grid(&mut canvas, &ys, GRID);
    axes.draw_x_grid(&mut canvas, &xs, GRID);
    axes.draw_y_labels(&mut canvas, &y_ticks);

    if price.iter().any(|v| v.is_finite()) {
        let pts = series_points(&axes, ts, price);
        canvas.polyline(&pts, BLUE, 1.5);
    } else if marks.is_empty() {
        draw_no_data(&mut canvas, &axes);
    }
    for m in &marks {
        let (shape, color) = m.kind.style();
        let x = axes.x_px(clamp_ts(m.ts_ms) as f64);
        let y = axes.y_px(m.price);
        canvas.marker(x, y, shape, 5.5, color, Some(WHITE));
    }
    axes.stroke_frame(&mut canvas);
    axes.draw_x_labels(&mut canvas, &x_ticks);
    if let Some(r) = t_range {
        draw_time_caption(&mut canvas, &axes, r);
    }
    canvas.to_png()
}

/// Colour of `t` in `-1..=1` on the diverging map: red below 0, near-white at 0, green above.
fn diverging(t: f64) -> Rgb {
    const NEG: [Rgb; 3] = [
        Rgb::new(246, 246, 244),
        Rgb::new(240, 150, 120),
        Rgb::new(178, 24, 43),
    ];
    const POS: [Rgb; 3] = [
        Rgb::new(246, 246, 244),
        Rgb::new(140, 205, 150),
        Rgb::new(20, 120, 60),
    ];
    let stops = if t < 0.0 { &NEG } else { &POS };
    ramp(stops, t.abs())
}

/// Colour of `t` in `0..=1` on the sequential map: pale yellow to deep blue.
fn sequential(t: f64) -> Rgb {
    const STOPS: [Rgb; 4] = [
        Rgb::new(250, 245, 200),
        Rgb::new(130, 200, 170),
        Rgb::new(45, 125, 185),
        Rgb::new(30, 45, 115),
    ];
    ramp(&STOPS, t)
}

/// Piecewise-linear colour ramp through evenly spaced `stops`, `t` clamped to `0..=1`.
fn ramp(stops: &[Rgb], t: f64) -> Rgb {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let segments = stops.len().saturating_sub(1);
    if segments == 0 {
        return stops.first().copied().unwrap_or(MISSING);
    }
    let pos = t * segments as f64;
    let i = (pos.floor() as usize).min(segments - 1);
    let (a, b) = (stops[i], stops[i + 1]);
    a.mix(b, pos - i as f64)
}

/// How heatmap values map to colours.
#[derive(Clone, Copy, Debug)]
struct ColorScale {
    lo: f64,
    hi: f64,
    diverging: bool,
}

impl ColorScale {
    fn new(range: (f64, f64)) -> Self {
        let (lo, hi) = range;
        if lo < 0.0 && hi > 0.0 {
            let m = lo.abs().max(hi.abs());
            ColorScale {
                lo: -m,
                hi: m,
                diverging: true,
            }
        } else {
            ColorScale {
                lo,
                hi,
                diverging: false,
            }
        }
    }

    fn color(&self, v: f64) -> Rgb {
        let span = self.hi - self.lo;
        let frac = if span.is_finite() && span > 0.0 {
            ((v - self.lo) / span).clamp(0.0, 1.0)
        } else {
            0.5
        };
        if self.diverging {
            diverging(frac * 2.0 - 1.0)
        } else {
            sequential(frac)
        }
    }
}

/// Heatmap of a metric over a two-parameter grid, as PNG bytes ([`CHART_WIDTH`] ×
/// [`CHART_HEIGHT`]).
///
/// `values[y][x]` is the metric for `x_labels[x]` and `y_labels[y]`; the first row is drawn at
/// the bottom (the y axis grows upwards). NaN or infinite values, and cells missing from short
/// rows, are missing and drawn grey. If the values straddle zero the colours diverge from
/// near-white at 0 (red below, green above); otherwise they run pale yellow (low) to deep blue
/// (high). Each cell shows its value when it is large enough; labels are thinned out when they
/// would overlap; a colour bar with `metric` above it sits on the right.
pub fn heatmap(
    title: &str,
    x_name: &str,
    x_labels: &[String],
    y_name: &str,
    y_labels: &[String],
    values: &[Vec<f64>],
    metric: &str,
) -> Vec<u8> {
    let longest_row = values.iter().map(Vec::len).max().unwrap_or(0);
    let nx = x_labels.len().min(longest_row);
    let ny = y_labels.len().min(values.len());
    let cell = |x: usize, y: usize| -> f64 {
        values
            .get(y)
            .and_then(|row| row.get(x))
            .copied()
            .filter(|v| x < nx && v.is_finite())
            .unwrap_or(f64::NAN)
    };
    let mut range: Option<(f64, f64)> = None;
    let mut any_missing = false;
    for y in 0..ny {
        for x in 0..nx {
            let v = cell(x, y);
            if v.is_finite() {
                range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
            } else {
                any_missing = true;
            }
        }
    }

    let mut canvas = Canvas::new(CHART_WIDTH, CHART_HEIGHT, BACKGROUND);
    let cw = CHART_WIDTH as i32;
    let ch = CHART_HEIGHT as i32;
    let top = draw_header(&mut canvas, title, &[]) + 22;

    // Colour bar ticks decide the right margin.
    let scale = range.map(ColorScale::new);
    let bar_ticks: Vec<(f64, String)> = match scale {
        Some(s) => {
            let ticks = nice_ticks(s.lo, s.hi, 8);
            let step = if ticks.len() >= 2 {
                ticks[1] - ticks[0]
            } else {
                1.0
            };
            ticks
                .iter()
                .filter(|&&v| v >= s.lo - step * 1e-9 && v <= s.hi + step * 1e-9)
                .map(|&v| (v, format_tick(v, step)))
                .collect()
        }
        None => Vec::new(),
    };
    let bar_w = 16;
    let metric_w = text_width(metric, 1).min(200);
    let right_block = (bar_w + 8 + max_label_width(&bar_ticks))
        .max(metric_w)
        .max(text_width("missing", 1) + 16);
    let bar_left = cw - PAD - right_block;
    let grid_right = bar_left - 28;

    // Left margin: vertical y name, then right-aligned y labels (truncated to 160 px).
    let y_texts: Vec<String> = y_labels[..ny].iter().map(|s| fit_text(s, 160, 1)).collect();
    let y_label_w = y_texts.iter().map(|s| text_width(s, 1)).max().unwrap_or(0);
    let name_w = if y_name.is_empty() {
        0
    } else {
        TEXT_HEIGHT + 12
    };
    let grid_left = PAD + name_w + y_label_w + 10;
    let grid_bottom = ch
        - PAD
        - if x_name.is_empty() {
            0
        } else {
            TEXT_HEIGHT + 12
        }
        - 22;
    let grid_w = (grid_right - grid_left).max(1);
    let grid_h = (grid_bottom - top).max(1);
    let grid = Axes {
        left: grid_left,
        top,
        width: grid_w,
        height: grid_h,
        x_min: 0.0,
        x_max: nx as f64,
        y_min: 0.0,
        y_max: ny as f64,
    };

    if !y_name.is_empty() {
        let text = fit_text(y_name, grid_h, 1);
        let tw = text_width(&text, 1);
        canvas.text_up(PAD, top + grid_h / 2 + tw / 2, &text, TEXT, 1);
    }
    if !x_name.is_empty() {
        let text = fit_text(x_name, grid_w, 1);
        canvas.label(
            grid_left + grid_w / 2,
            grid_bottom + 22 + TEXT_HEIGHT,
            &text,
            TEXT,
            1,
            Align::Center,
        );
    }

    if nx == 0 || ny == 0 {
        grid.draw_frame(&mut canvas, PLOT_BG);
        draw_no_data(&mut canvas, &grid);
        return canvas.to_png();
    }

    // Cell edges in pixels; x edges left to right, y edges bottom to top.
    let x_edge = |i: usize| grid_left + (i as f64 * f64::from(grid_w) / nx as f64).round() as i32;
    let y_edge =
        |j: usize| top + grid_h - (j as f64 * f64::from(grid_h) / ny as f64).round() as i32;
    let cell_w = f64::from(grid_w) / nx as f64;
    let cell_h = f64::from(grid_h) / ny as f64;
    let gap = i32::from(cell_w >= 8.0 && cell_h >= 8.0);
    let max_abs = range.map_or(0.0, |(lo, hi)| lo.abs().max(hi.abs()));
    let decimals = if max_abs >= 1000.0 {
        0
    } else if max_abs >= 10.0 {
        1
    } else if max_abs >= 1.0 {
        2
    } else {
        3
    };
    // Values are printed in every cell or in none: only if the widest fits the smallest cell.
    let (min_w, min_h) = (cell_w.floor() as i32 - gap, cell_h.floor() as i32 - gap);
    let value_scale = if min_w >= 12 && min_h >= 11 {
        let widest = (0..ny)
            .flat_map(|y| (0..nx).map(move |x| (x, y)))
            .map(|(x, y)| cell(x, y))
            .filter(|v| v.is_finite())
            .map(|v| text_width(&format_value(v, decimals), 1))
            .max()
            .unwrap_or(0);
        if cell_w >= 90.0 && 2 * widest + 12 <= min_w && 2 * TEXT_HEIGHT + 8 <= min_h {
            Some(2)
        } else if widest + 4 <= min_w {
            Some(1)
        } else {
            None
        }
    } else {
        None
    };

    for y in 0..ny {
        for x in 0..nx {
            let (x0, x1) = (x_edge(x), x_edge(x + 1));
            let (y0, y1) = (y_edge(y + 1), y_edge(y));
            let (w, h) = (x1 - x0 - gap, y1 - y0 - gap);
            if w <= 0 || h <= 0 {
                continue;
            }
            let v = cell(x, y);
            let color = match scale {
                Some(s) if v.is_finite() => s.color(v),
                _ => MISSING,
            };
            canvas.fill_rect(x0, y0, w, h, color);
            if let (true, Some(s)) = (v.is_finite(), value_scale) {
                let ink = if color.luma() < 135.0 { WHITE } else { TITLE };
                let text = format_value(v, decimals);
                canvas.label(x0 + w / 2, y0 + h / 2, &text, ink, s, Align::Center);
            }
        }
    }

    // X labels, thinned so they do not overlap.
    let x_texts: Vec<String> = x_labels[..nx].iter().map(|s| fit_text(s, 140, 1)).collect();
    let widest = x_texts.iter().map(|s| text_width(s, 1)).max().unwrap_or(0);
    let x_stride = ((f64::from(widest + 10) / cell_w).ceil() as usize).max(1);
    for (i, text) in x_texts.iter().enumerate().step_by(x_stride) {
        let centre = (x_edge(i) + x_edge(i + 1) - gap) / 2;
        canvas.label(centre, grid_bottom + 10, text, TEXT, 1, Align::Center);
    }
    let y_stride = ((f64::from(TEXT_HEIGHT + 6) / cell_h).ceil() as usize).max(1);
    for (j, text) in y_texts.iter().enumerate().step_by(y_stride) {
        let centre = (y_edge(j) + y_edge(j + 1) - gap) / 2;
        canvas.label(grid_left - 8, centre, text, TEXT, 1, Align::Right);
    }

    // Colour bar.
    canvas.label(
        bar_left,
        top - 12,
        &fit_text(metric, right_block, 1),
        TEXT,
        1,
        Align::Left,
    );
    match scale {
        Some(s) => {
            let bar_h = if any_missing { grid_h - 30 } else { grid_h };
            let bar = Axes {
                left: bar_left,
                top,
                width: bar_w,
                height: bar_h.max(1),
                x_min: 0.0,
                x_max: 1.0,
                y_min: s.lo,
                y_max: s.hi,
            };
            for row in 0..bar.height {
                let frac = 1.0 - (f64::from(row) + 0.5) / f64::from(bar.height);
                let color = s.color(s.lo + frac * (s.hi - s.lo));
                canvas.fill_rect(bar_left, top + row, bar_w, 1, color);
            }
            bar.stroke_frame(&mut canvas);
            for (v, text) in &bar_ticks {
                let row = bar.y_row(*v);
                canvas.fill_rect(bar_left + bar_w, row, 4, 1, FRAME);
                canvas.label(bar_left + bar_w + 8, row, text, TEXT, 1, Align::Left);
            }
        }
        None => {
            canvas.label(bar_left, top + 10, "no finite", MUTED, 1, Align::Left);
            canvas.label(bar_left, top + 22, "values", MUTED, 1, Align::Left);
        }
    }
    if any_missing {
        let y = top + grid_h - 12;
        canvas.fill_rect(bar_left, y, 12, 12, MISSING);
        canvas.label(bar_left + 18, y + 6, "missing", TEXT, 1, Align::Left);
    }
    canvas.to_png()
}

/// One curve of a latency chart: a label, whether it is a baseline (drawn thinner, in warm
/// colours) and its points.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyCurve {
    /// Legend text.
    pub label: String,
    /// A baseline (warm colours) rather than the system measured (cool colours).
    pub baseline: bool,
    /// (x, latency in ns): x is a quantile in `0..1` for [`latency_by_percentile_chart`],
    /// seconds since the start for [`latency_over_time_chart`].
    pub points: Vec<(f64, f64)>,
}

const COOL: [Rgb; 4] = [
    BLUE,
    Rgb::new(24, 150, 160),
    Rgb::new(90, 70, 180),
    Rgb::new(20, 60, 110),
];
const WARM: [Rgb; 4] = [RED, ORANGE, Rgb::new(160, 40, 120), Rgb::new(150, 90, 30)];

/// `ns` as a short duration label: `250 ns`, `3 us`, `1.5 ms`, `2 s`.
pub fn format_ns(ns: f64) -> String {
    let (v, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "us")
    } else {
        (ns, "ns")
    };
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// Decades of ns covering `lo..=hi` (log10 values) with their labels.
fn decade_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (a, b) = (lo.floor() as i32, hi.ceil() as i32);
    (a..=b.max(a + 1))
        .map(|d| (f64::from(d), format_ns(10f64.powi(d))))
        .collect()
}

fn latency_canvas(
    title: &str,
    curves: &[LatencyCurve],
    x_range: (f64, f64),
    x_ticks: &[(f64, String)],
    x_caption: &str,
    x_of: impl Fn(f64) -> Option<f64>,
) -> Vec<u8> {
    let mut legend = Vec::new();
    let (mut cool, mut warm) = (0, 0);
    let colors: Vec<Rgb> = curves
        .iter()
        .map(|c| {
            let k = if c.baseline { &mut warm } else { &mut cool };
            let col = if c.baseline {
                WARM[*k % 4]
            } else {
                COOL[*k % 4]
            };
            *k += 1;
            col
        })
        .collect();
    for (c, col) in curves.iter().zip(&colors) {
        legend.push((Swatch::Line(*col), c.label.clone()));
    }
    let mut canvas = Canvas::new(CHART_WIDTH, CHART_HEIGHT, BACKGROUND);
    let top = draw_header(&mut canvas, title, &legend) + 8;
    let bottom = CHART_HEIGHT as i32 - 52;
    let ys: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::log10)
        .collect();
    let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let y_ticks = if ys.is_empty() {
        decade_ticks(1.0, 6.0)
    } else {
        decade_ticks(lo, hi)
    };
    let label_w = max_label_width(&y_ticks);
    let left = (PAD + label_w + 12).max(60);
    let width = CHART_WIDTH as i32 - left - 24;
    let (y0, y1) = tick_limits(&y_ticks, (1.0, 6.0));
    let axes = Axes {
        left,
        top,
        width,
        height: bottom - top,
        x_min: x_range.0,
        x_max: x_range.1,
        y_min: y0,
        y_max: y1,
    };
    axes.draw_frame(&mut canvas, PLOT_BG);
    let grid_y: Vec<f64> = y_ticks.iter().map(|t| t.0).collect();
    let grid_x: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
    axes.draw_y_grid(&mut canvas, &grid_y, GRID);
    axes.draw_x_grid(&mut canvas, &grid_x, GRID);
    axes.draw_y_labels(&mut canvas, &y_ticks);
    if ys.is_empty() {
        draw_no_data(&mut canvas, &axes);
    }
    for (c, col) in curves.iter().zip(&colors) {
        let pts: Vec<(f64, f64)> = c
            .points
            .iter()
            .filter(|p| p.1.is_finite() && p.1 > 0.0)
            .filter_map(|&(x, y)| Some((axes.x_px(x_of(x)?), axes.y_px(y.log10()))))
            .collect();
        canvas.polyline(&pts, *col, if c.baseline { 1.5 } else { 2.0 });
    }
    axes.stroke_frame(&mut canvas);
    axes.draw_x_labels(&mut canvas, x_ticks);
    canvas.label(
        left + width / 2,
        bottom + 34,
        x_caption,
        MUTED,
        1,
        Align::Center,
    );
    canvas.to_png()
}

/// The standard HdrHistogram chart: latency (log scale) against percentile, the x axis
/// stretched as 1/(1-p) on a log scale out to 99.999 %. Points are (quantile, ns).
pub fn latency_by_percentile_chart(title: &str, curves: &[LatencyCurve]) -> Vec<u8> {
    let ticks: Vec<(f64, String)> = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, (*l).to_string()))
        .collect();
    latency_canvas(title, curves, (0.0, 5.0), &ticks, "percentile", |q| {
        (q < 1.0).then(|| (1.0 / (1.0 - q)).log10().min(5.0))
    })
}

/// Latency (log scale) over time; points are (seconds since the start, ns).
pub fn latency_over_time_chart(title: &str, curves: &[LatencyCurve]) -> Vec<u8> {
    let t1 = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .filter(|t| t.is_finite())
        .fold(0.0f64, f64::max);
    let ticks: Vec<(f64, String)> = nice_ticks(0.0, t1.max(1e-3), 10)
        .into_iter()
        .map(|t| (t, format!("{} s", format_tick(t, t1.max(1e-3) / 10.0))))
        .collect();
    let x1 = ticks.last().map_or(1.0, |t| t.0.max(t1));
    latency_canvas(
        title,
        curves,
        (0.0, x1),
        &ticks,
        "seconds since start",
        Some,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A decoded image: width, height and RGB bytes.
    struct Decoded {
        width: u32,
        height: u32,
        rgb: Vec<u8>,
    }

    fn be32(b: &[u8]) -> u32 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Checks everything the encoder promises and decodes the pixels.
    fn check_png(png: &[u8]) -> Decoded {
        assert_eq!(&png[..8], &PNG_SIGNATURE, "signature");
        let mut pos = 8;
        let mut kinds = Vec::new();
        let mut idat = Vec::new();
        let (mut width, mut height) = (0, 0);
        while pos < png.len() {
            let len = be32(&png[pos..]) as usize;
            let kind = &png[pos + 4..pos + 8];
            let data = &png[pos + 8..pos + 8 + len];
            let crc = be32(&png[pos + 8 + len..]);
            assert_eq!(crc, crc32(&[kind, data]), "CRC of {:?}", kind);
            match kind {
                b"IHDR" => {
                    assert_eq!(len, 13);
                    width = be32(&data[0..4]);
                    height = be32(&data[4..8]);
                    assert!(width > 0 && height > 0);
                    assert_eq!(&data[8..13], &[8, 2, 0, 0, 0], "depth, colour, methods");
                }
                b"IDAT" => idat.extend_from_slice(data),
                b"IEND" => assert_eq!(len, 0),
                other => panic!("unexpected chunk {other:?}"),
            }
            kinds.push(kind.to_vec());
            pos += 12 + len;
        }
        assert_eq!(pos, png.len(), "no trailing bytes");
        assert_eq!(kinds.first().map(Vec::as_slice), Some(&b"IHDR"[..]));
        assert_eq!(kinds.last().map(Vec::as_slice), Some(&b"IEND"[..]));
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(idat.as_slice())
            .read_to_end(&mut raw)
            .expect("IDAT inflates");
        let row = 1 + 3 * width as usize;
        assert_eq!(raw.len(), height as usize * row, "inflated size");
        let mut rgb = Vec::new();
        for r in raw.chunks(row) {
            assert_eq!(r[0], 0, "filter byte");
            rgb.extend_from_slice(&r[1..]);
        }
        Decoded { width, height, rgb }
    }

    fn px(img: &Decoded, x: u32, y: u32) -> Rgb {
        let i = ((y * img.width + x) * 3) as usize;
        Rgb::new(img.rgb[i], img.rgb[i + 1], img.rgb[i + 2])
    }

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"IEND"]), 0xAE42_6082);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
    }

    #[test]
    fn png_round_trips_pixels() {
        let (w, h) = (7u32, 5u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let img = check_png(&encode_png(w, h, &rgb));
        assert_eq!((img.width, img.height), (w, h));
        assert_eq!(img.rgb, rgb);
        let last = (w * h * 3 - 3) as usize;
        assert_eq!(
            px(&img, w - 1, h - 1),
            Rgb::new(rgb[last], rgb[last + 1], rgb[last + 2])
        );
    }

    #[test]
    fn png_tolerates_bad_buffers_and_sizes() {
        let img = check_png(&encode_png(4, 3, &[255; 5]));
        assert_eq!((img.width, img.height), (4, 3));
        assert_eq!(&img.rgb[..5], &[255; 5]);
        assert!(
            img.rgb[5..].iter().all(|&b| b == 0),
            "missing pixels are black"
        );
        let img = check_png(&encode_png(0, 0, &[]));
        assert_eq!((img.width, img.height), (1, 1));
        let img = check_png(&encode_png(2, 1, &[9; 100]));
        assert_eq!(img.rgb, vec![9; 6], "extra bytes ignored");
    }

    #[test]
    fn png_splits_large_idat() {
        // Noise does not compress, so this needs more than one IDAT chunk.
        let (w, h) = (700u32, 600u32);
        let mut state = 0x1234_5678u32;
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let png = encode_png(w, h, &rgb);
        assert!(png.len() > IDAT_CHUNK);
        assert_eq!(check_png(&png).rgb, rgb);
    }

    #[test]
    fn horizontal_line_covers_exact_row() {
        let mut c = Canvas::new(30, 20, WHITE);
        c.line(2.5, 10.5, 20.5, 10.5, BLACK, 1.0);
        for x in 0..30 {
            let expect = if (2..=20).contains(&x) { BLACK } else { WHITE };
            assert_eq!(c.pixel(x, 10), Some(expect), "x = {x}");
            assert_eq!(c.pixel(x, 9), Some(WHITE));
            assert_eq!(c.pixel(x, 11), Some(WHITE));
        }
    }

    #[test]
    fn vertical_and_thick_lines() {
        let mut c = Canvas::new(20, 20, WHITE);
        c.line(5.5, 2.5, 5.5, 15.5, RED, 1.0);
        for y in 2..=15 {
            assert_eq!(c.pixel(5, y), Some(RED));
            assert_eq!(c.pixel(4, y), Some(WHITE));
            assert_eq!(c.pixel(6, y), Some(WHITE));
        }
        let mut c = Canvas::new(20, 20, WHITE);
        c.line(1.5, 10.0, 18.5, 10.0, BLUE, 2.0);
        for x in 2..=18 {
            assert_eq!(c.pixel(x, 9), Some(BLUE));
            assert_eq!(c.pixel(x, 10), Some(BLUE));
            assert_eq!(c.pixel(x, 8), Some(WHITE));
            assert_eq!(c.pixel(x, 11), Some(WHITE));
        }
    }

    #[test]
    fn diagonal_line_follows_its_path() {
        let mut c = Canvas::new(20, 20, WHITE);
        c.line(0.5, 0.5, 19.5, 19.5, BLACK, 1.0);
        for i in 0..20 {
            let p = c.pixel(i, i).expect("inside");
            assert!(p.luma() < 100.0, "diagonal pixel {i} is dark: {p:?}");
        }
        assert_eq!(c.pixel(15, 2), Some(WHITE));
        assert_eq!(c.pixel(2, 15), Some(WHITE));
    }

    #[test]
    fn drawing_never_panics_on_wild_input() {
        let mut c = Canvas::new(50, 40, WHITE);
        let wild = [
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
            1e300,
            -1e300,
            f64::MAX,
            -0.0,
            25.0,
        ];
        for &a in &wild {
            for &b in &wild {
                c.line(a, b, 10.0, 10.0, BLACK, 1.0);
                c.line(a, 5.0, b, 30.0, BLACK, f64::NAN);
                c.fill_circle(a, b, 3.0, RED);
                c.fill_triangle((a, b), (0.0, 0.0), (40.0, 30.0), GREEN);
                c.marker(a, b, MarkerShape::TriangleDown, a, RED, Some(WHITE));
            }
            c.polyline(&[(a, 1.0), (2.0, a), (a, a)], BLUE, 2.0);
            c.fill_to_baseline(&[(0.0, a), (a, 10.0), (49.0, 3.0)], 20.0, RED, 0.3);
            c.fill_to_baseline(&[(0.0, 1.0), (49.0, 3.0)], a, RED, a);
        }
        c.fill_rect(i32::MIN, i32::MIN, i32::MAX, i32::MAX, GRID);
        c.fill_rect(i32::MAX, i32::MAX, i32::MAX, i32::MAX, GRID);
        c.stroke_rect(i32::MAX - 1, 0, i32::MAX, 5, GRID);
        c.text(i32::MAX - 3, i32::MIN, "overflow?", BLACK, 9);
        c.text_up(i32::MIN, i32::MAX, "overflow?", BLACK, 0);
        c.set_pixel(-1, 100, BLACK);
        c.blend_pixel(3, 3, BLACK, f64::NAN);
        assert_eq!(c.pixel(-1, 0), None);
        check_png(&c.to_png());
    }

    #[test]
    fn axes_with_wild_fields_do_not_panic() {
        let mut c = Canvas::new(60, 40, WHITE);
        let ticks = vec![(0.5, String::from("0.5")), (f64::NAN, String::from("x"))];
        for (l, w) in [
            (i32::MIN, i32::MAX),
            (i32::MAX, i32::MAX),
            (i32::MAX, i32::MIN),
            (5, -9),
        ] {
            for (lo, hi) in [
                (0.0, 1.0),
                (1.0, 1.0),
                (f64::NAN, 2.0),
                (-f64::MAX, f64::MAX),
            ] {
                let axes = Axes {
                    left: l,
                    top: w,
                    width: w,
                    height: l,
                    x_min: lo,
                    x_max: hi,
                    y_min: lo,
                    y_max: hi,
                };
                axes.draw_frame(&mut c, PLOT_BG);
                axes.draw_x_grid(&mut c, &[0.5, f64::INFINITY], GRID);
                axes.draw_y_grid(&mut c, &[0.5, -1e300], GRID);
                axes.draw_x_labels(&mut c, &ticks);
                axes.draw_y_labels(&mut c, &ticks);
                assert!(axes.x_px(0.5).is_finite() || !lo.is_finite() || hi > 1e300);
            }
        }
    }

    #[test]
    fn fill_to_baseline_fills_between() {
        let mut c = Canvas::new(20, 20, WHITE);
        c.fill_to_baseline(&[(2.0, 15.0), (12.0, 15.0)], 5.0, RED, 1.0);
        assert_eq!(c.pixel(5, 10), Some(RED));
        assert_eq!(c.pixel(5, 5), Some(RED));
        assert_eq!(c.pixel(5, 14), Some(RED));
        assert_eq!(c.pixel(5, 3), Some(WHITE));
        assert_eq!(c.pixel(5, 16), Some(WHITE));
        assert_eq!(c.pixel(15, 10), Some(WHITE));
    }

    #[test]
    fn markers_are_drawn_where_asked() {
        for shape in [
            MarkerShape::TriangleUp,
            MarkerShape::TriangleDown,
            MarkerShape::Circle,
        ] {
            let mut c = Canvas::new(40, 40, WHITE);
            c.marker(20.0, 20.0, shape, 6.0, GREEN, Some(BLACK));
            assert_eq!(c.pixel(20, 20), Some(GREEN), "{shape:?}");
            assert_eq!(c.pixel(2, 2), Some(WHITE), "{shape:?}");
        }
        let mut c = Canvas::new(40, 40, WHITE);
        c.marker(20.0, 20.0, MarkerShape::TriangleUp, 8.0, GREEN, None);
        // The apex is on top: a row near the top is narrower than one near the base.
        let ink = |y| (0..40).filter(|&x| c.pixel(x, y) != Some(WHITE)).count();
        assert!(ink(14) < ink(24));
    }

    #[test]
    fn text_stays_inside_its_box() {
        let mut c = Canvas::new(200, 40, WHITE);
        let s = "Equity 61234.5 -3.2% 2024-08-08 23:54 gjpqy";
        c.text(10, 10, s, BLACK, 1);
        let w = text_width(s, 1);
        let mut inked = 0;
        for y in 0..40 {
            for x in 0..200 {
                if c.pixel(x, y) != Some(WHITE) {
                    inked += 1;
                    assert!(
                        (10..10 + w).contains(&x) && (10..10 + TEXT_HEIGHT).contains(&y),
                        "ink at ({x}, {y}) outside the text box"
                    );
                }
            }
        }
        assert!(inked > 100);
        let mut c = Canvas::new(60, 40, WHITE);
        c.text(4, 4, "Ag", BLACK, 2);
        let inked = (0..40)
            .flat_map(|y| (0..60).map(move |x| (x, y)))
            .filter(|&(x, y)| c.pixel(x, y) != Some(WHITE))
            .count();
        assert!(inked > 40);
        assert_eq!(text_width("Ag", 2), 2 * text_width("Ag", 1));
    }

    #[test]
    fn rotated_text_stays_inside_its_box() {
        let mut c = Canvas::new(40, 120, WHITE);
        let s = "Sharpe";
        c.text_up(10, 100, s, BLACK, 1);
        let w = text_width(s, 1);
        for y in 0..120 {
            for x in 0..40 {
                if c.pixel(x, y) != Some(WHITE) {
                    assert!((10..10 + TEXT_HEIGHT).contains(&x) && (100 - w..100).contains(&y));
                }
            }
        }
    }

    #[test]
    fn font_glyphs_are_distinct_and_inked() {
        let mut seen = std::collections::HashSet::new();
        for code in 33u8..=126 {
            let (bits, _, width) = glyph(char::from(code));
            assert!(bits.iter().any(|&r| r != 0), "glyph {code} is blank");
            assert!(bits.iter().all(|&r| r < 32), "glyph {code} wider than 5");
            assert!((1..=5).contains(&width));
            assert!(seen.insert(*bits), "glyph {code} duplicates another");
        }
        assert_eq!(glyph('é').0, glyph('?').0);
        assert_eq!(text_width("", 1), 0);
        assert_eq!(text_width("0", 1), 5);
        assert_eq!(text_width("00", 1), 11);
    }

    fn is_nice(step: f64) -> bool {
        let exp = step.log10().floor();
        let m = step / 10f64.powf(exp);
        [1.0, 2.0, 5.0, 10.0].iter().any(|n| (m - n).abs() < 1e-6)
    }

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        let cases = [
            (0.0, 1.0),
            (0.013, 0.087),
            (61234.5, 61890.0),
            (-3.2, 0.0),
            (-1e6, 5e6),
            (9876.0, 10234.0),
            (1e-7, 3e-7),
            (-42.0, -41.5),
        ];
        for (lo, hi) in cases {
            for max in [3, 5, 8, 12] {
                let t = nice_ticks(lo, hi, max);
                assert!(
                    t.len() >= 2 && t.len() <= max,
                    "{lo}..{hi} max {max}: {t:?}"
                );
                assert!(t[0] <= lo && *t.last().unwrap() >= hi, "{lo}..{hi}: {t:?}");
                let step = t[1] - t[0];
                assert!(is_nice(step), "{lo}..{hi}: step {step}");
                for pair in t.windows(2) {
                    assert!(((pair[1] - pair[0]) - step).abs() < step * 1e-6);
                }
            }
        }
        assert_eq!(
            nice_ticks(0.0, 10.0, 6),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(
            nice_ticks(10.0, 0.0, 6),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
    }

    #[test]
    fn ticks_survive_degenerate_ranges() {
        for (lo, hi) in [
            (5.0, 5.0),
            (0.0, 0.0),
            (f64::NAN, 3.0),
            (f64::INFINITY, -f64::INFINITY),
            (f64::NAN, f64::NAN),
            (-f64::MAX, f64::MAX),
            (1e300, 1e300),
            (1e15, 1e15 + 1e-3),
        ] {
            let t = nice_ticks(lo, hi, 6);
            assert!(t.len() >= 2, "{lo}..{hi}");
            assert!(t.iter().all(|v| v.is_finite()));
            assert!(t.windows(2).all(|p| p[0] < p[1]), "{lo}..{hi}: {t:?}");
        }
        let t = nice_ticks(5.0, 5.0, 6);
        assert!(t[0] < 5.0 && *t.last().unwrap() > 5.0);
    }

    #[test]
    fn tick_labels() {
        assert_eq!(format_tick(61234.5, 0.5), "61234.5");
        assert_eq!(format_tick(-3.2, 0.2), "-3.2");
        assert_eq!(format_tick(10000.0, 500.0), "10000");
        assert_eq!(format_tick(0.05, 0.01), "0.05");
        assert_eq!(format_tick(-0.0, 1.0), "0");
        assert_eq!(format_tick(-0.00001, 0.1), "0.0");
        assert_eq!(format_tick(0.1, 0.1), "0.1");
        assert_eq!(format_tick(f64::NAN, 1.0), "?");
        assert_eq!(format_tick(2e20, 1e19), "2.00e20");
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_utc(1_723_161_240_000), "2024-08-08 23:54");
        assert_eq!(format_utc(0), "1970-01-01 00:00");
        assert_eq!(format_utc(-1), "1969-12-31 23:59");
        assert_eq!(format_utc(i64::MIN), "0000-01-01 00:00");
        assert_eq!(format_utc(i64::MAX), "9999-12-31 23:59");
    }

    #[test]
    fn time_ticks_pick_format_by_span() {
        let t0 = 1_723_161_240_000; // 2024-08-08 23:54
        let hours = time_ticks(t0, t0 + 6 * HOUR, 8);
        assert!(hours.len() >= 3 && hours.len() <= 8);
        assert!(hours.iter().any(|(_, s)| s == "08-09"), "{hours:?}");
        assert!(hours.iter().any(|(_, s)| s.len() == 5 && s.contains(':')));
        let days = time_ticks(t0, t0 + 3 * DAY, 8);
        assert!(days.iter().all(|(_, s)| s.len() == 11), "{days:?}");
        let weeks = time_ticks(t0, t0 + 40 * DAY, 8);
        assert!(weeks.iter().all(|(_, s)| s.len() == 10), "{weeks:?}");
        let months = time_ticks(t0, t0 + 400 * DAY, 8);
        assert!(months.iter().all(|(_, s)| s.len() == 7), "{months:?}");
        let years = time_ticks(t0, t0 + 4000 * DAY, 8);
        assert!(years.iter().all(|(_, s)| s.len() == 4), "{years:?}");
        let secs = time_ticks(t0, t0 + 40 * SECOND, 8);
        assert!(secs.iter().all(|(_, s)| s.len() == 8), "{secs:?}");
        for ticks in [&hours, &days, &weeks, &months, &years, &secs] {
            assert!(ticks.len() >= 2 && ticks.len() <= 8);
            assert!(ticks.windows(2).all(|p| p[0].0 < p[1].0));
        }
        assert!(time_ticks(i64::MIN, i64::MAX, 10).len() <= 10);
        assert!(time_ticks(5, 5, 10).len() <= 1);
        assert_eq!(time_ticks(t0 + DAY, t0, 5), time_ticks(t0, t0 + DAY, 5));
    }

    #[test]
    fn decimator_keeps_extremes_and_breaks() {
        let mut d = Decimator::default();
        for i in 0..1000 {
            let x = 10.0 + i as f64 / 1000.0; // all in column 10
            let y = if i == 500 {
                -7.0
            } else if i == 700 {
                9.0
            } else {
                0.0
            };
            d.push(x, y);
        }
        d.push(f64::NAN, 1.0);
        d.push(f64::NAN, 1.0);
        d.push(11.5, 2.0);
        let out = d.finish();
        let ys: Vec<f64> = out.iter().map(|p| p.1).collect();
        assert_eq!(ys.len(), 6, "{out:?}");
        assert_eq!(&ys[..4], &[0.0, -7.0, 9.0, 0.0]);
        assert!(ys[4].is_nan());
        assert_eq!(ys[5], 2.0);
    }

    fn sample_series(n: usize) -> (Vec<i64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let t0 = 1_722_470_400_000; // 2024-08-01
        let ts: Vec<i64> = (0..n as i64).map(|i| t0 + i * MINUTE).collect();
        let mut eq = Vec::with_capacity(n);
        let mut bench = Vec::with_capacity(n);
        let mut dd = Vec::with_capacity(n);
        let (mut v, mut b, mut peak) = (10_000.0f64, 10_000.0f64, 10_000.0f64);
        let mut state = 42u64;
        for _ in 0..n {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let r = ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5;
            v *= 1.0 + r * 0.004 + 0.00002;
            b *= 1.0 + r * 0.003;
            peak = peak.max(v);
            eq.push(v);
            bench.push(b);
            dd.push((v / peak - 1.0) * 100.0);
        }
        (ts, eq, bench, dd)
    }

    fn check_chart(png: &[u8]) -> Decoded {
        let img = check_png(png);
        assert_eq!((img.width, img.height), (CHART_WIDTH, CHART_HEIGHT));
        img
    }

    #[test]
    fn equity_chart_inputs() {
        let (ts, eq, bench, dd) = sample_series(3_000);
        let img = check_chart(&equity_chart("Equity", &ts, &eq, Some(&bench), &dd));
        // Somewhere in the plot there is the equity blue and the drawdown red.
        assert!(img.rgb.chunks(3).any(|p| p == [BLUE.r, BLUE.g, BLUE.b]));
        assert!(img.rgb.chunks(3).any(|p| p == [RED.r, RED.g, RED.b]));
        check_chart(&equity_chart("", &[], &[], None, &[]));
        check_chart(&equity_chart("empty bench", &ts, &eq, Some(&[]), &[]));
        let nan = vec![f64::NAN; ts.len()];
        check_chart(&equity_chart("NaN", &ts, &nan, Some(&nan), &nan));
        check_chart(&equity_chart(
            "one",
            &ts[..1],
            &eq[..1],
            Some(&bench[..1]),
            &dd[..1],
        ));
        let flat = vec![10_000.0; ts.len()];
        let zero = vec![0.0; ts.len()];
        check_chart(&equity_chart("flat", &ts, &flat, None, &zero));
        check_chart(&equity_chart(
            "mismatch",
            &ts[..10],
            &eq,
            Some(&bench[..3]),
            &dd[..7],
        ));
        let wild = [f64::INFINITY, -1e300, 1e300, f64::NAN, 5.0, -f64::INFINITY];
        let wild_ts = [i64::MIN, -1, 0, i64::MAX, 3, 3];
        check_chart(&equity_chart("wild", &wild_ts, &wild, Some(&wild), &wild));
        let unsorted = [5 * HOUR, 0, 2 * HOUR, HOUR];
        check_chart(&equity_chart(
            "unsorted",
            &unsorted,
            &eq[..4],
            None,
            &dd[..4],
        ));
        let long = "A very long title that keeps going and going ".repeat(8);
        check_chart(&equity_chart(&long, &ts, &eq, Some(&bench), &dd));
    }

    #[test]
    fn equity_chart_single_point_is_visible() {
        let img = check_chart(&equity_chart("one", &[1_000_000], &[5.0], None, &[]));
        assert!(img.rgb.chunks(3).any(|p| p == [BLUE.r, BLUE.g, BLUE.b]));
    }

    /// `n` marks every `every` points from `first`, cycling long, short, exits (`cycle` kinds).
    fn sample_marks(
        ts: &[i64],
        price: &[f64],
        n: usize,
        every: usize,
        first: usize,
        cycle: usize,
    ) -> Vec<Mark> {
        (0..n)
            .map(|i| {
                let idx = i * every + first;
                let kind = match i % cycle {
                    0 => MarkKind::EnterLong,
                    1 => MarkKind::EnterShort,
                    _ => MarkKind::Exit,
                };
                Mark {
                    ts_ms: ts[idx],
                    price: price[idx],
                    kind,
                }
            })
            .collect()
    }

    #[test]
    fn price_chart_inputs() {
        let (ts, price, _, _) = sample_series(2_000);
        let marks = sample_marks(&ts, &price, 30, 60, 10, 3);
        let img = check_chart(&price_chart("BTCUSDT", &ts, &price, &marks));
        assert!(img.rgb.chunks(3).any(|p| p == [GREEN.r, GREEN.g, GREEN.b]));
        check_chart(&price_chart("", &[], &[], &[]));
        let nan = vec![f64::NAN; ts.len()];
        check_chart(&price_chart("NaN", &ts, &nan, &[]));
        check_chart(&price_chart("NaN + marks", &ts, &nan, &marks));
        check_chart(&price_chart("one", &ts[..1], &price[..1], &marks[..1]));
        check_chart(&price_chart("marks only", &[], &[], &marks));
        check_chart(&price_chart("flat", &ts, &vec![61_234.5; ts.len()], &[]));
        check_chart(&price_chart("mismatch", &ts[..5], &price, &marks));
        let bad_marks = [
            Mark {
                ts_ms: i64::MIN,
                price: f64::NAN,
                kind: MarkKind::Exit,
            },
            Mark {
                ts_ms: i64::MAX,
                price: 1e300,
                kind: MarkKind::EnterLong,
            },
        ];
        check_chart(&price_chart("bad marks", &ts, &price, &bad_marks));
    }

    fn grid_labels(n: usize, prefix: &str) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{}", (i + 1) * 5)).collect()
    }

    #[test]
    fn heatmap_inputs() {
        let xs = grid_labels(8, "");
        let ys = grid_labels(6, "");
        let values: Vec<Vec<f64>> = (0..6)
            .map(|y| {
                (0..8)
                    .map(|x| (x as f64 - 3.0) * 0.4 + y as f64 * 0.1)
                    .collect()
            })
            .collect();
        check_chart(&heatmap(
            "Sharpe", "fast", &xs, "slow", &ys, &values, "sharpe",
        ));
        check_chart(&heatmap("", "", &[], "", &[], &[], ""));
        let nan = vec![vec![f64::NAN; 8]; 6];
        check_chart(&heatmap("NaN", "fast", &xs, "slow", &ys, &nan, "m"));
        check_chart(&heatmap(
            "one",
            "a",
            &xs[..1],
            "b",
            &ys[..1],
            &[vec![1.5]],
            "m",
        ));
        let flat = vec![vec![2.0; 8]; 6];
        check_chart(&heatmap("flat", "a", &xs, "b", &ys, &flat, "m"));
        let ragged = vec![vec![1.0, f64::INFINITY], vec![], vec![3.0; 20]];
        check_chart(&heatmap("ragged", "a", &xs, "b", &ys, &ragged, "m"));
        let big_x = grid_labels(300, "ema=");
        let big_y = grid_labels(200, "period ");
        let big: Vec<Vec<f64>> = (0..200)
            .map(|y| (0..300).map(|x| (x * y) as f64).collect())
            .collect();
        check_chart(&heatmap("big", "x", &big_x, "y", &big_y, &big, "trades"));
        let wild = vec![vec![1e300, -1e300, f64::MAX, f64::MIN_POSITIVE]];
        check_chart(&heatmap("wild", "a", &xs, "b", &ys, &wild, "m"));
    }

    #[test]
    fn million_points_draw() {
        let (ts, eq, bench, dd) = sample_series(1_000_000);
        let start = std::time::Instant::now();
        check_chart(&equity_chart("1M", &ts, &eq, Some(&bench), &dd));
        check_chart(&price_chart("1M", &ts, &eq, &[]));
        // Generous: debug builds are slow; release draws this in well under a second.
        assert!(start.elapsed().as_secs() < 60);
    }

    /// Writes sample charts to /tmp/plot-*.png for a person to look at.
    #[test]
    fn write_sample_charts() {
        let (ts, eq, bench, dd) = sample_series(20_000);
        let scaled: Vec<f64> = bench.iter().map(|b| b * 6.1).collect();
        let marks = sample_marks(&ts, &scaled, 40, 40, 100, 4);
        let price: Vec<f64> = bench[..2_000].iter().map(|b| b * 6.1).collect();
        let fast = grid_labels(10, "");
        let slow: Vec<String> = (0..7).map(|i| format!("{}", 20 + i * 10)).collect();
        let values: Vec<Vec<f64>> = (0..7)
            .map(|y| {
                (0..10)
                    .map(|x| {
                        if (x, y) == (3, 2) {
                            f64::NAN
                        } else {
                            ((x as f64 * 0.7).sin() + (y as f64 * 0.5).cos()) * 1.2 - 0.3
                        }
                    })
                    .collect()
            })
            .collect();
        let charts = [
            (
                "equity",
                equity_chart("BTCUSDT ema-cross 1m backtest", &ts, &eq, Some(&bench), &dd),
            ),
            (
                "price",
                price_chart("BTCUSDT 1m with trades", &ts[..2_000], &price, &marks),
            ),
            (
                "heatmap",
                heatmap(
                    "Sharpe by EMA lengths",
                    "fast EMA",
                    &fast,
                    "slow EMA",
                    &slow,
                    &values,
                    "Sharpe",
                ),
            ),
            ("empty", equity_chart("No trades", &[], &[], None, &[])),
            (
                "single",
                price_chart("One tick", &ts[..1], &price[..1], &marks[..1]),
            ),
            (
                "flat",
                equity_chart(
                    "Flat equity, no drawdown",
                    &ts[..500],
                    &vec![10_000.0; 500],
                    Some(&eq[..500]),
                    &vec![0.0; 500],
                ),
            ),
        ];
        for (name, png) in charts {
            check_chart(&png);
            let path = std::env::temp_dir().join(format!("plot-{name}.png"));
            std::fs::write(&path, &png).expect("write sample chart");
        }
    }
}
