//! PNG line charts of training curves and heatmaps, drawn pixel by pixel,
//! with text in DejaVu Sans (shipped in `fonts/`, rasterised with anti-aliasing
//! by `ab_glyph`), written with the `image` crate's PNG encoder.

use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use recur_data::write_atomically;

use crate::TrainError;

/// One named line of a chart: `(x, y)` points in x order (e.g. epoch and
/// loss). Points with a NaN or infinite coordinate are skipped, and the line
/// is broken there.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The name shown in the legend.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series named `name`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// Chart width in pixels.
pub const WIDTH: u32 = 800;
/// Chart height in pixels.
pub const HEIGHT: u32 = 500;
/// The plot area (inside the axes): left, top, right, bottom pixel.
pub const PLOT_AREA: (u32, u32, u32, u32) = (80, 40, WIDTH - 20, HEIGHT - 40);

/// Line colours, in series order (then repeating).
pub const COLOURS: [[u8; 3]; 8] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [23, 190, 207],
];

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [225, 225, 225];

/// DejaVu Sans 2.37, under the Bitstream Vera licence (`fonts/LICENSE`).
const FONT_FILE: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// The size of labels, tick numbers and legends: pixels from the font's
/// ascent to its descent (capitals are 7.5 pixels tall).
const SMALL: f32 = 12.0;
/// The size of titles (capitals 14 pixels tall).
const LARGE: f32 = 22.0;

/// Draws `series` as lines (with point markers when a series has fewer than
/// 50 points, so a single point shows) on axes with ticks and numbers, a
/// title and a legend, and writes it atomically (temporary file, then
/// rename) as a [`WIDTH`] x [`HEIGHT`] RGB PNG at `path`.
///
/// The axes span the finite points of all series; a chart with no finite
/// point gets axes from 0 to 1.
pub fn line_chart(
    series: &[Series],
    title: &str,
    path: impl AsRef<Path>,
) -> Result<(), TrainError> {
    let mut canvas = Canvas::new(WIDTH, HEIGHT);
    let (left, top, right, bottom) = PLOT_AREA;
    let (left, top, right, bottom) = (left as i64, top as i64, right as i64, bottom as i64);

    let finite = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in finite {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let (x0, x1) = widen(x0, x1, 0.0);
    let (y0, y1) = widen(y0, y1, 0.05);
    let px = |x: f64| left as f64 + (x - x0) / (x1 - x0) * (right - left) as f64;
    let py = |y: f64| bottom as f64 - (y - y0) / (y1 - y0) * (bottom - top) as f64;

    // grid, ticks and numbers
    let xt = ticks(x0, x1, 8);
    let yt = ticks(y0, y1, 6);
    for &t in &xt.values {
        let x = px(t).round() as i64;
        canvas.line(x, top, x, bottom - 1, GRID);
        canvas.line(x, bottom, x, bottom + 5, BLACK);
        let label = xt.label(t);
        let w = text_width(&label, SMALL);
        canvas.text(x - w / 2, bottom + 9, &label, SMALL, BLACK);
    }
    for &t in &yt.values {
        let y = py(t).round() as i64;
        canvas.line(left + 1, y, right, y, GRID);
        canvas.line(left - 5, y, left, y, BLACK);
        let label = yt.label(t);
        let w = text_width(&label, SMALL);
        let y = y - cap_height(SMALL) / 2;
        canvas.text(left - 9 - w, y, &label, SMALL, BLACK);
    }
    // axes
    canvas.line(left, top, left, bottom, BLACK);
    canvas.line(left, bottom, right, bottom, BLACK);

    // the lines, clipped to the plot area
    canvas.clip = (left + 1, top, right, bottom - 1);
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let markers = s.points.len() < 50;
        let mut last: Option<(i64, i64)> = None;
        for &(x, y) in &s.points {
            if !(x.is_finite() && y.is_finite()) {
                last = None;
                continue;
            }
            let p = (px(x).round() as i64, py(y).round() as i64);
            if let Some(q) = last {
                canvas.thick_line(q.0, q.1, p.0, p.1, colour);
            }
            if markers {
                canvas.rect(p.0 - 2, p.1 - 2, 5, 5, colour);
            }
            last = Some(p);
        }
    }
    canvas.clip = (0, 0, WIDTH as i64 - 1, HEIGHT as i64 - 1);

    // title and legend
    let tw = text_width(title, LARGE);
    canvas.text((WIDTH as i64 - tw) / 2, 12, title, LARGE, BLACK);
    if !series.is_empty() {
        let widest = series
            .iter()
            .map(|s| text_width(&s.name, SMALL))
            .max()
            .unwrap_or(0);
        let (lw, lh) = (widest + 36, series.len() as i64 * 14 + 8);
        let (lx, ly) = (right - lw - 8, top + 8);
        canvas.rect(lx, ly, lw, lh, WHITE);
        canvas.frame(lx, ly, lw, lh, BLACK);
        for (i, s) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let y = ly + 7 + i as i64 * 14;
            // a swatch 3 pixels tall, level with the middle of the capitals
            canvas.rect(lx + 6, y + cap_height(SMALL) / 2 - 1, 18, 3, colour);
            canvas.text(lx + 30, y, &s.name, SMALL, BLACK);
        }
    }

    let png = encode_png(WIDTH, HEIGHT, &canvas.pixels);
    let path = path.as_ref();
    write_atomically(path, &png).map_err(TrainError::io(path))
}

/// A grid of values to draw as coloured cells, e.g. attention weights
/// (output words x source words) or an NTM's weightings (time x memory
/// location).
#[derive(Debug, Clone, Copy)]
pub struct Heatmap<'a> {
    /// The title above the grid.
    pub title: &'a str,
    /// The values, row-major: `rows * cols` of them.
    pub values: &'a [f32],
    /// Number of rows (drawn top to bottom).
    pub rows: usize,
    /// Number of columns (drawn left to right).
    pub cols: usize,
    /// One label per row, drawn left of the grid, or empty for none.
    pub row_labels: &'a [String],
    /// One label per column, drawn vertically above the grid, or empty for
    /// none.
    pub col_labels: &'a [String],
    /// The values drawn white and darkest blue; `None` uses the finite
    /// minimum and maximum of `values`.
    pub range: Option<(f32, f32)>,
}

/// The colour of the highest value of a heatmap (lower values fade
/// linearly to white); non-finite values are drawn grey.
pub const HEAT_HIGH: [u8; 3] = [8, 48, 107];
/// The colour of a non-finite value in a heatmap.
pub const HEAT_NAN: [u8; 3] = [160, 160, 160];

/// Draws `map` as a grid of square cells (2 to 28 pixels, as large as fits
/// about 800 x 600 pixels), with its labels, its title and the value range
/// in a line below, and writes it atomically as an RGB PNG at `path`.
///
/// Labels are drawn only where their cells are tall (rows) or wide
/// (columns) enough to separate them: every k-th label otherwise.
pub fn heatmap(map: &Heatmap<'_>, path: impl AsRef<Path>) -> Result<(), TrainError> {
    let path = path.as_ref();
    let invalid = |message: String| TrainError::Plot {
        path: path.to_path_buf(),
        message,
    };
    if map.values.len() != map.rows * map.cols {
        return Err(invalid(format!(
            "heatmap has {} values for {} x {} cells",
            map.values.len(),
            map.rows,
            map.cols
        )));
    }
    for (what, labels, n) in [
        ("row", map.row_labels, map.rows),
        ("column", map.col_labels, map.cols),
    ] {
        if !labels.is_empty() && labels.len() != n {
            return Err(invalid(format!(
                "heatmap has {} {what} labels for {n} {what}s",
                labels.len()
            )));
        }
    }
    let (lo, hi) = map.range.unwrap_or_else(|| {
        map.values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    });
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };

    let (rows, cols) = (map.rows.max(1) as i64, map.cols.max(1) as i64);
    let cell = (800 / cols).min(600 / rows).clamp(2, 28);
    let widest = |labels: &[String]| {
        labels
            .iter()
            .map(|l| text_width(l, SMALL))
            .max()
            .unwrap_or(0)
    };
    let left = 10 + widest(map.row_labels) + 6;
    let top = 36 + widest(map.col_labels) + 6;
    let scale = format!("white = {lo:.3}, blue = {hi:.3}");
    let width = (left + cols * cell + 10)
        .max(text_width(map.title, LARGE) + 20)
        .max(left + text_width(&scale, SMALL) + 10);
    let height = top + rows * cell + 24;
    let mut canvas = Canvas::new(width as u32, height as u32);

    for (i, &v) in map.values.iter().enumerate() {
        let (r, c) = (i as i64 / cols, i as i64 % cols);
        let colour = if v.is_finite() {
            let t = if hi > lo {
                ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let fade = |high: u8| (255.0 - t * (255.0 - high as f32)).round() as u8;
            [fade(HEAT_HIGH[0]), fade(HEAT_HIGH[1]), fade(HEAT_HIGH[2])]
        } else {
            HEAT_NAN
        };
        canvas.rect(left + c * cell, top + r * cell, cell, cell, colour);
    }
    canvas.frame(left - 1, top - 1, cols * cell + 2, rows * cell + 2, BLACK);

    // every `step`-th label, so labels (a line from ascent to descent) never
    // overlap; each label's capitals centred on its cell
    let line = SMALL.ceil() as i64;
    let step = |cell: i64| ((line + cell - 1) / cell) as usize;
    let inset = (cell - cap_height(SMALL)) / 2;
    for (r, label) in map.row_labels.iter().enumerate().step_by(step(cell)) {
        let y = top + r as i64 * cell + inset;
        let x = left - 6 - text_width(label, SMALL);
        canvas.text(x, y, label, SMALL, BLACK);
    }
    for (c, label) in map.col_labels.iter().enumerate().step_by(step(cell)) {
        let x = left + c as i64 * cell + inset;
        canvas.vertical_text(x, top - 6, label, SMALL, BLACK);
    }
    canvas.text(10, 10, map.title, LARGE, BLACK);
    canvas.text(left, top + rows * cell + 9, &scale, SMALL, BLACK);

    let png = encode_png(width as u32, height as u32, &canvas.pixels);
    write_atomically(path, &png).map_err(TrainError::io(path))
}

/// `(min, max)` with room: an empty range becomes 0..1, a single value `v`
/// becomes `v ± max(|v|/10, 0.5)`, and otherwise `pad` of the span is added
/// on each side.
fn widen(min: f64, max: f64, pad: f64) -> (f64, f64) {
    if min > max {
        (0.0, 1.0)
    } else if max - min <= f64::EPSILON * max.abs().max(1.0) {
        let d = (min.abs() / 10.0).max(0.5);
        (min - d, max + d)
    } else {
        let d = (max - min) * pad;
        (min - d, max + d)
    }
}

struct Ticks {
    values: Vec<f64>,
    decimals: usize,
    scientific: bool,
}

impl Ticks {
    fn label(&self, v: f64) -> String {
        let v = if v.abs() < 1e-12 { 0.0 } else { v };
        if self.scientific {
            format!("{v:.2e}").to_uppercase()
        } else {
            format!("{v:.*}", self.decimals)
        }
    }
}

/// Round tick values (1, 2 or 5 times a power of ten apart) inside `lo..=hi`,
/// about `target` of them.
fn ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    let raw = (hi - lo) / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let values = (first..=last).map(|i| i as f64 * step).collect();
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let big = hi.abs().max(lo.abs());
    Ticks {
        values,
        decimals: decimals.min(6),
        scientific: big >= 1e7 || decimals > 6,
    }
}

struct Canvas {
    width: i64,
    height: i64,
    pixels: Vec<u8>,
    clip: (i64, i64, i64, i64),
}

impl Canvas {
    fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width: width as i64,
            height: height as i64,
            pixels: vec![255; width as usize * height as usize * 3],
            clip: (0, 0, width as i64 - 1, height as i64 - 1),
        }
    }

    /// Where the pixel `(x, y)` starts in `pixels`, if it is inside the
    /// canvas and the clip rectangle.
    fn index(&self, x: i64, y: i64) -> Option<usize> {
        let (l, t, r, b) = self.clip;
        if x < l || x > r || y < t || y > b || x < 0 || y < 0 || x >= self.width || y >= self.height
        {
            return None;
        }
        Some(((y * self.width + x) * 3) as usize)
    }

    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    fn frame(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        self.line(x, y, x + w - 1, y, c);
        self.line(x, y + h - 1, x + w - 1, y + h - 1, c);
        self.line(x, y, x, y + h - 1, c);
        self.line(x + w - 1, y, x + w - 1, y + h - 1, c);
    }

    /// Bresenham's line, both ends included.
    fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        // lines far outside the canvas (huge coordinates) are not walked
        let limit = 4 * (self.width + self.height);
        for _ in 0..=(dx.max(-dy)).min(limit) {
            self.set(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn thick_line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        for (ox, oy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            self.line(x0 + ox, y0 + oy, x1 + ox, y1 + oy, c);
        }
    }

    /// Mixes `c` into the pixel at `(x, y)`: `alpha` 1 paints it, 0 leaves
    /// it.
    fn blend(&mut self, x: i64, y: i64, c: [u8; 3], alpha: f32) {
        let Some(i) = self.index(x, y) else {
            return;
        };
        let alpha = alpha.clamp(0.0, 1.0);
        for (old, new) in self.pixels[i..i + 3].iter_mut().zip(c) {
            *old = (*old as f32 + (new as f32 - *old as f32) * alpha).round() as u8;
        }
    }

    /// `text` at `size`, the top of its capitals at row `y`, starting at
    /// column `x` (accents and descenders reach beyond).
    fn text(&mut self, x: i64, y: i64, text: &str, size: f32, c: [u8; 3]) {
        rasterise(text, size, |h, v, alpha| self.blend(x + h, y + v, c, alpha));
    }

    /// `text` at `size` turned a quarter anticlockwise, read bottom to top:
    /// it starts at row `y_end`, and the tops of its capitals face column
    /// `x`.
    fn vertical_text(&mut self, x: i64, y_end: i64, text: &str, size: f32, c: [u8; 3]) {
        rasterise(text, size, |h, v, alpha| {
            self.blend(x + v, y_end - h, c, alpha)
        });
    }
}

/// The plots' font, parsed once.
fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_FILE).expect("the shipped font parses"))
}

/// The height in pixels of capital letters at `size`, rounded: text is
/// placed by the top of its capitals, `cap_height` above its baseline.
fn cap_height(size: f32) -> i64 {
    let font = font();
    let capital = font
        .outline(font.glyph_id('H'))
        // ab_glyph's unscaled bounds hold the top in `min`
        .map_or(0.0, |outline| outline.bounds.min.y);
    (capital * font.as_scaled(size).v_scale_factor()).round() as i64
}

/// The glyphs of `text` at `size`, each with its pen position: the
/// baseline at 0, the first glyph's origin at x = 0; and the pen's final x.
fn layout(text: &str, size: f32) -> (Vec<(GlyphId, f32)>, f32) {
    let font = font().as_scaled(PxScale::from(size));
    let mut pen = 0.0;
    let mut previous: Option<GlyphId> = None;
    let mut glyphs = Vec::new();
    for ch in text.chars() {
        let id = font.glyph_id(ch);
        if let Some(previous) = previous {
            pen += font.kern(previous, id);
        }
        glyphs.push((id, pen));
        pen += font.h_advance(id);
        previous = Some(id);
    }
    (glyphs, pen)
}

/// Width in pixels of `text` at `size`: its glyphs' advances (with kerning),
/// rounded up.
fn text_width(text: &str, size: f32) -> i64 {
    layout(text, size).1.ceil() as i64
}

/// Rasterises `text` at `size` with anti-aliasing, calling `plot(x, y,
/// coverage)` for each pixel a glyph touches, `x` right of the text's start
/// and `y` below the top of its capitals.
fn rasterise(text: &str, size: f32, mut plot: impl FnMut(i64, i64, f32)) {
    let font = font().as_scaled(PxScale::from(size));
    let baseline = cap_height(size) as f32;
    for (id, x) in layout(text, size).0 {
        let glyph = id.with_scale_and_position(size, point(x, baseline));
        if let Some(outline) = font.outline_glyph(glyph) {
            let min = outline.px_bounds().min;
            outline.draw(|h, v, coverage| {
                if coverage > 0.0 {
                    plot(min.x as i64 + h as i64, min.y as i64 + v as i64, coverage);
                }
            });
        }
    }
}

/// Encodes 8-bit RGB pixels (`width * height * 3` bytes, rows top first) as
/// a PNG.
///
/// # Panics
///
/// If `rgb` is not `width * height * 3` bytes long.
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    assert_eq!(
        rgb.len(),
        width as usize * height as usize * 3,
        "encode_png: wrong pixel count"
    );
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(rgb, width, height, ExtendedColorType::Rgb8)
        .expect("encoding to memory cannot fail once the size is checked");
    png
}
