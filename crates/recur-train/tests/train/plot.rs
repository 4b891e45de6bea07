//! Decodes the PNGs the plots write and looks at their pixels.

use std::path::Path;

use ab_glyph::Font;
use recur_train::plot::{self, COLOURS, HEIGHT, PLOT_AREA, Series, WIDTH};

use crate::common::scratch;

/// A decoded RGB image.
struct Image {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Image {
    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    fn count(&self, colour: [u8; 3]) -> usize {
        self.rgb.chunks(3).filter(|p| *p == colour).count()
    }

    /// Pixels of `colour` inside the rectangle (inclusive).
    fn count_in(&self, colour: [u8; 3], x0: usize, y0: usize, x1: usize, y1: usize) -> usize {
        let mut n = 0;
        for y in y0..=y1 {
            for x in x0..=x1 {
                n += usize::from(self.pixel(x, y) == colour);
            }
        }
        n
    }

    /// The smallest rectangle (inclusive) holding every pixel of `colour`.
    fn bounds(&self, colour: [u8; 3]) -> (usize, usize, usize, usize) {
        let mut bounds = (usize::MAX, usize::MAX, 0, 0);
        for y in 0..self.height {
            for x in 0..self.width {
                if self.pixel(x, y) == colour {
                    bounds = (
                        bounds.0.min(x),
                        bounds.1.min(y),
                        bounds.2.max(x),
                        bounds.3.max(y),
                    );
                }
            }
        }
        assert!(bounds.0 <= bounds.2, "no pixel of {colour:?}");
        bounds
    }
}

/// Decodes a PNG written by `encode_png`.
fn decode(path: &Path) -> Image {
    let rgb = image::open(path).unwrap().to_rgb8();
    Image {
        width: rgb.width() as usize,
        height: rgb.height() as usize,
        rgb: rgb.into_raw(),
    }
}

#[test]
fn small_png_round_trips() {
    let dir = scratch("plot-small");
    let rgb: Vec<u8> = (0..2 * 3 * 3).map(|i| i as u8 * 10).collect();
    let path = dir.join("tiny.png");
    std::fs::write(&path, plot::encode_png(3, 2, &rgb)).unwrap();
    let image = decode(&path);
    assert_eq!((image.width, image.height), (3, 2));
    assert_eq!(image.rgb, rgb);
}

#[test]
fn loss_chart() {
    let dir = scratch("plot-loss");
    let path = dir.join("loss.png");
    let train: Vec<(f64, f64)> = (1..=20)
        .map(|e| (e as f64, 3.0 / (e as f64).sqrt()))
        .collect();
    let mut valid: Vec<(f64, f64)> = (1..=20)
        .map(|e| (e as f64, 3.2 / (e as f64).sqrt() + 0.1))
        .collect();
    valid[5].1 = f64::NAN;
    valid[6].1 = f64::INFINITY;
    let series = [Series::new("train", train), Series::new("valid", valid)];
    plot::line_chart(&series, "charlm loss per epoch", &path).unwrap();
    let image = decode(&path);
    assert_eq!(
        (image.width, image.height),
        (WIDTH as usize, HEIGHT as usize)
    );
    // no temporary file left behind
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["loss.png"]);

    let (left, top, right, bottom) = PLOT_AREA;
    let (left, top, right, bottom) = (left as usize, top as usize, right as usize, bottom as usize);
    assert_eq!(image.pixel(0, 0), [255, 255, 255], "white background");
    // the axes are black lines
    for y in top..=bottom {
        assert_eq!(image.pixel(left, y), [0, 0, 0], "y axis at {y}");
    }
    for x in left..=right {
        assert_eq!(image.pixel(x, bottom), [0, 0, 0], "x axis at {x}");
    }
    // tick marks below the x axis and left of the y axis
    let below: usize = (left..=right)
        .filter(|&x| image.pixel(x, bottom + 4) == [0, 0, 0])
        .count();
    assert!(below >= 3, "x ticks: {below}");
    let beside: usize = (top..=bottom)
        .filter(|&y| image.pixel(left - 4, y) == [0, 0, 0])
        .count();
    assert!(beside >= 3, "y ticks: {beside}");
    // both series drawn in their own colours, inside the plot area
    for colour in [COLOURS[0], COLOURS[1]] {
        let inside = image.count_in(colour, left + 1, top, right, bottom - 1);
        assert!(inside > 300, "{colour:?}: {inside}");
    }
    assert_eq!(image.count(COLOURS[2]), 0);
    // the title: black text pixels in the band above the plot area
    assert!(image.count_in([0, 0, 0], 0, 0, WIDTH as usize - 1, top - 5) > 100);
    // the first points (highest loss) are in the top left corner
    for colour in [COLOURS[0], COLOURS[1]] {
        assert!(image.count_in(colour, left + 1, top, left + 20, (top + bottom) / 2) > 0);
    }
}

#[test]
fn single_point_and_nothing_finite() {
    let dir = scratch("plot-single");
    let path = dir.join("one.png");
    plot::line_chart(
        &[Series::new("valid", vec![(1.0, 2.5)])],
        "one point",
        &path,
    )
    .unwrap();
    let image = decode(&path);
    // a marker in the middle of the plot area
    let (left, top, right, bottom) = PLOT_AREA;
    let (cx, cy) = (((left + right) / 2) as usize, ((top + bottom) / 2) as usize);
    assert_eq!(image.pixel(cx, cy), COLOURS[0]);
    assert!(image.count(COLOURS[0]) >= 25);

    let path = dir.join("none.png");
    let series = [Series::new(
        "train",
        vec![(f64::NAN, 1.0), (2.0, f64::NEG_INFINITY)],
    )];
    plot::line_chart(&series, "nothing", &path).unwrap();
    let image = decode(&path);
    // only the legend swatch carries the colour
    assert_eq!(image.count(COLOURS[0]), 18 * 3);
    plot::line_chart(&[], "no series", dir.join("empty.png")).unwrap();
    decode(&dir.join("empty.png"));
}

#[test]
fn unwritable_path_names_the_file() {
    let dir = scratch("plot-bad");
    let path = dir.join("missing").join("x.png");
    let err = plot::line_chart(&[], "t", &path).unwrap_err().to_string();
    assert!(err.contains("x.png"), "{err}");
}

#[test]
fn heatmap_cells_labels_and_errors() {
    let dir = scratch("plot-heatmap");
    let path = dir.join("attention.png");
    // 2 x 3 attention: each row's maximum on a different source word
    let values = [0.1, 0.9, 0.0, 0.0, 0.2, 0.8];
    let rows = ["the".to_string(), "cat".to_string()];
    let cols = ["die".to_string(), "Katze".to_string(), "<end>".to_string()];
    let map = plot::Heatmap {
        title: "attention",
        values: &values,
        rows: 2,
        cols: 3,
        row_labels: &rows,
        col_labels: &cols,
        range: Some((0.0, 1.0)),
    };
    plot::heatmap(&map, &path).unwrap();
    let image = decode(&path);
    // 28-pixel cells: no value is 1.0, so the darkest blue is absent, and a
    // 0.0 cell is pure white 28 x 28 (plus white canvas elsewhere)
    assert_eq!(image.count(plot::HEAT_HIGH), 0);
    let fade = |t: f32| -> [u8; 3] {
        let f = |h: u8| (255.0 - t * (255.0 - h as f32)).round() as u8;
        let [r, g, b] = plot::HEAT_HIGH;
        [f(r), f(g), f(b)]
    };
    assert_eq!(image.count(fade(0.9)), 28 * 28);
    assert_eq!(image.count(fade(0.8)), 28 * 28);
    assert_eq!(image.count(fade(0.2)), 28 * 28);
    // labels are drawn in black, left of and above the grid
    assert!(image.count([0, 0, 0]) > 100);

    // a NaN is grey; the default range is the values' own
    plot::heatmap(
        &plot::Heatmap {
            values: &[0.0, f32::NAN, 2.0, 4.0],
            rows: 2,
            cols: 2,
            row_labels: &[],
            col_labels: &[],
            range: None,
            ..map
        },
        dir.join("nan.png"),
    )
    .unwrap();
    let image = decode(&dir.join("nan.png"));
    assert_eq!(image.count(plot::HEAT_HIGH), 28 * 28);
    assert_eq!(image.count(fade(0.5)), 28 * 28);
    // the grid from the 4.0 cell (bottom right): the NaN above it, 0.0
    // (white) and 2.0 left of them; the NaN grey is counted in its cell
    // only, as the text's anti-aliased edges hold greys too
    let (x, y, x1, y1) = image.bounds(plot::HEAT_HIGH);
    assert_eq!((x1 - x, y1 - y), (27, 27));
    assert_eq!(
        image.count_in(plot::HEAT_NAN, x, y - 28, x1, y - 1),
        28 * 28
    );
    assert_eq!(image.count_in(fade(0.5), x - 28, y, x - 1, y1), 28 * 28);
    assert_eq!(
        image.count_in([255; 3], x - 28, y - 28, x - 1, y - 1),
        28 * 28
    );

    let wrong = plot::Heatmap {
        values: &values[..5],
        ..map
    };
    let message = plot::heatmap(&wrong, &path).unwrap_err().to_string();
    assert!(message.contains("5 values for 2 x 3 cells"), "{message}");
    let wrong = plot::Heatmap {
        row_labels: &rows[..1],
        ..map
    };
    let message = plot::heatmap(&wrong, &path).unwrap_err().to_string();
    assert!(message.contains("1 row labels for 2 rows"), "{message}");
}

/// The ink (non-white pixels) of one label, cropped to its bounding box.
#[derive(Debug, PartialEq)]
struct Ink {
    /// The rows of the box's top and bottom in the picture.
    top: usize,
    bottom: usize,
    width: usize,
    /// The pixels, row-major.
    rgb: Vec<[u8; 3]>,
}

impl Ink {
    /// The box's rows from picture row `y` down, as a new box.
    fn from_row(&self, y: usize) -> Ink {
        let skip = (y - self.top) * self.width;
        Ink {
            top: y,
            bottom: self.bottom,
            width: self.width,
            rgb: self.rgb[skip..].to_vec(),
        }
    }
}

/// Draws `label` as the only row label of a one-cell heatmap with no title
/// and returns its ink: everything left of the grid's frame, down to the
/// grid's bottom (the row label alone).
fn label_ink(dir: &Path, name: &str, label: &str) -> Ink {
    let path = dir.join(format!("{name}.png"));
    let labels = [label.to_string()];
    let map = plot::Heatmap {
        title: "",
        values: &[1.0],
        rows: 1,
        cols: 1,
        row_labels: &labels,
        col_labels: &[],
        range: Some((0.0, 1.0)),
    };
    plot::heatmap(&map, &path).unwrap();
    let image = decode(&path);
    let (left, _, _, bottom) = image.bounds(plot::HEAT_HIGH);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..=bottom {
        for x in 0..left - 1 {
            if image.pixel(x, y) != [255; 3] {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    assert!(x0 <= x1, "{label:?} left no ink");
    let mut rgb = Vec::new();
    for y in y0..=y1 {
        for x in x0..=x1 {
            rgb.push(image.pixel(x, y));
        }
    }
    Ink {
        top: y0,
        bottom: y1,
        width: x1 - x0 + 1,
        rgb,
    }
}

#[test]
fn umlauts_and_eszett_are_drawn_with_their_own_glyphs() {
    // the shipped font has a glyph for each (glyph 0 is the missing glyph,
    // .notdef, which a character outside the font gets)
    let font =
        ab_glyph::FontRef::try_from_slice(include_bytes!("../../fonts/DejaVuSans.ttf")).unwrap();
    let label = "Größe über Äpfel";
    for c in label.chars().chain("äöüÄÖÜß".chars()) {
        assert_ne!(font.glyph_id(c).0, 0, "{c:?} has no glyph");
    }
    let missing = '\u{10FFFD}';
    assert_eq!(font.glyph_id(missing).0, 0);

    // and the plots draw them: each differs from the missing glyph and from
    // '?', and is its base letter with the dots added above
    let dir = scratch("plot-umlauts");
    let notdef = label_ink(&dir, "notdef", &missing.to_string());
    let question = label_ink(&dir, "question", "?");
    assert_ne!(notdef, question);
    for (i, (umlaut, base)) in [
        ('ä', 'a'),
        ('ö', 'o'),
        ('ü', 'u'),
        ('Ä', 'A'),
        ('Ö', 'O'),
        ('Ü', 'U'),
    ]
    .into_iter()
    .enumerate()
    {
        let umlaut_ink = label_ink(&dir, &format!("umlaut-{i}"), &umlaut.to_string());
        let base_ink = label_ink(&dir, &format!("base-{i}"), &base.to_string());
        assert_ne!(umlaut_ink, notdef, "{umlaut} drawn as the missing glyph");
        assert_ne!(umlaut_ink, question, "{umlaut} drawn as '?'");
        assert!(
            umlaut_ink.top < base_ink.top,
            "{umlaut}: no dots above {base}"
        );
        assert_eq!(umlaut_ink.bottom, base_ink.bottom, "{umlaut}: baseline");
        assert_eq!(umlaut_ink.width, base_ink.width, "{umlaut}");
        assert_eq!(
            umlaut_ink.from_row(base_ink.top),
            base_ink,
            "{umlaut} below its dots is not {base}"
        );
    }
    let eszett = label_ink(&dir, "eszett", "ß");
    for (other, name) in [(&notdef, "the missing glyph"), (&question, "'?'")] {
        assert_ne!(&eszett, other, "ß drawn as {name}");
    }
    assert_ne!(eszett, label_ink(&dir, "b", "B"));

    // the whole label, as a title and as column and row labels: its ink
    // differs from the same label with the missing glyph for each umlaut
    let whole = label_ink(&dir, "label", label);
    let replaced: String = label
        .chars()
        .map(|c| if c.is_ascii() { c } else { missing })
        .collect();
    assert_ne!(whole, label_ink(&dir, "replaced", &replaced));
    let words: Vec<String> = label.split(' ').map(String::from).collect();
    plot::heatmap(
        &plot::Heatmap {
            title: label,
            values: &[0.1, 0.5, 0.9, 0.7, 0.2, 0.0, 0.3, 0.6, 1.0],
            rows: 3,
            cols: 3,
            row_labels: &words,
            col_labels: &words,
            range: None,
        },
        dir.join("attention.png"),
    )
    .unwrap();
    decode(&dir.join("attention.png"));
}
