//! The embedded data set: pictures of two coloured shapes, drawn from a seed,
//! with captions such as "a small red circle above a large blue square".
//!
//! Some colour-shape combinations (see [`HELD_OUT`]) never appear in the
//! training and validation pictures; every test picture holds at least one,
//! so test BLEU measures whether the model composes colours and shapes it
//! has only seen apart.

use burn::config::Config;
use recur_data::{Split, SplitMix64};

use crate::data::{CaptionData, CaptionedImage, Picture};

/// The shapes drawn.
pub const SHAPES: [&str; 3] = ["circle", "square", "triangle"];
/// The colours, with their RGB values.
pub const COLOURS: [(&str, [u8; 3]); 4] = [
    ("red", [220, 40, 40]),
    ("green", [40, 190, 60]),
    ("blue", [60, 90, 240]),
    ("yellow", [235, 215, 40]),
];
/// The sizes, with the shape's radius as a fraction of the picture's side.
pub const SIZES: [(&str, f32); 2] = [("small", 0.12), ("large", 0.22)];
/// (colour, shape) combinations kept out of training and validation.
pub const HELD_OUT: [(&str, &str); 3] =
    [("red", "triangle"), ("green", "circle"), ("blue", "square")];
/// Background grey level.
const BACKGROUND: u8 = 24;

/// Configuration of the generated shapes data set.
#[derive(Config, Debug)]
pub struct ShapesConfig {
    /// Side of each square picture, in pixels.
    #[config(default = 32)]
    pub image_size: usize,
    /// Training pictures (no held-out combination).
    #[config(default = 3000)]
    pub train: usize,
    /// Validation pictures (no held-out combination).
    #[config(default = 200)]
    pub valid: usize,
    /// Test pictures (each with at least one held-out combination).
    #[config(default = 200)]
    pub test: usize,
    /// Seed of the generator: the same seed gives the same pictures.
    #[config(default = 7)]
    pub seed: u64,
}

/// One shape of a scene: indices into [`SHAPES`], [`COLOURS`], [`SIZES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Index into [`SHAPES`].
    pub shape: usize,
    /// Index into [`COLOURS`].
    pub colour: usize,
    /// Index into [`SIZES`].
    pub size: usize,
}

impl Shape {
    /// "small red circle".
    pub fn phrase(&self) -> String {
        format!(
            "{} {} {}",
            SIZES[self.size].0, COLOURS[self.colour].0, SHAPES[self.shape]
        )
    }

    /// Whether its colour and shape are one of [`HELD_OUT`].
    pub fn is_held_out(&self) -> bool {
        HELD_OUT.contains(&(COLOURS[self.colour].0, SHAPES[self.shape]))
    }
}

/// Where the first shape of a scene is relative to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The first shape is in the top half, the second in the bottom half.
    Above,
    /// The first shape is in the left half, the second in the right half.
    LeftOf,
}

/// Two shapes and where they are relative to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scene {
    /// The shape in the top (or left) half.
    pub first: Shape,
    /// The shape in the bottom (or right) half.
    pub second: Shape,
    /// How the halves are arranged.
    pub relation: Relation,
}

impl Scene {
    /// The two reference captions: first relative to second, and the
    /// converse ("... above ..." and "... below ...").
    pub fn captions(&self) -> [String; 2] {
        let (a, b) = (self.first.phrase(), self.second.phrase());
        let (forward, backward) = match self.relation {
            Relation::Above => ("above", "below"),
            Relation::LeftOf => ("to the left of", "to the right of"),
        };
        [
            format!("a {a} {forward} a {b}"),
            format!("a {b} {backward} a {a}"),
        ]
    }

    /// Whether either shape is a held-out combination.
    pub fn has_held_out(&self) -> bool {
        self.first.is_held_out() || self.second.is_held_out()
    }
}

/// Generates the data set: pictures as model inputs (row-major, RGB
/// interleaved, values `pixel / 255 - 0.5`, one row of `side * side * 3`
/// per picture), the pictures themselves, and two captions each.
pub fn generate(config: &ShapesConfig) -> CaptionData {
    let mut rng = SplitMix64::new(config.seed);
    let side = config.image_size;
    let mut images = Vec::new();
    let mut inputs =
        Vec::with_capacity((config.train + config.valid + config.test) * 3 * side * side);
    let parts = [
        (Split::Train, config.train),
        (Split::Val, config.valid),
        (Split::Test, config.test),
    ];
    for (split, count) in parts {
        for _ in 0..count {
            let scene = loop {
                let scene = random_scene(&mut rng);
                if scene.has_held_out() == (split == Split::Test) {
                    break scene;
                }
            };
            let picture = draw(&scene, side, &mut rng);
            inputs.extend(normalise(&picture));
            images.push(CaptionedImage {
                name: format!("shapes-{:05}.png", images.len()),
                split,
                captions: scene.captions().to_vec(),
                picture: Some(picture),
            });
        }
    }
    CaptionData {
        images,
        inputs,
        input_size: 3 * side * side,
        image_size: Some(side),
    }
}

/// Two different shapes, uniformly at random.
fn random_scene(rng: &mut SplitMix64) -> Scene {
    let mut shape = || Shape {
        shape: rng.below(SHAPES.len()),
        colour: rng.below(COLOURS.len()),
        size: rng.below(SIZES.len()),
    };
    let first = shape();
    let second = loop {
        let second = shape();
        if (second.shape, second.colour) != (first.shape, first.colour) {
            break second;
        }
    };
    let relation = if rng.below(2) == 0 {
        Relation::Above
    } else {
        Relation::LeftOf
    };
    Scene {
        first,
        second,
        relation,
    }
}

/// Draws the scene: each shape at a random spot inside its half.
fn draw(scene: &Scene, side: usize, rng: &mut SplitMix64) -> Picture {
    let mut rgb = vec![BACKGROUND; side * side * 3];
    for (half, shape) in [scene.first, scene.second].into_iter().enumerate() {
        let radius = (SIZES[shape.size].1 * side as f32).max(1.0);
        let half_side = side as f32 / 2.0;
        // Centre along the split axis inside this half, across it anywhere.
        let along = place(rng, radius, half_side) + half as f32 * half_side;
        let across = place(rng, radius, side as f32);
        let (cx, cy) = match scene.relation {
            Relation::Above => (across, along),
            Relation::LeftOf => (along, across),
        };
        let colour = COLOURS[shape.colour].1;
        for y in 0..side {
            for x in 0..side {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if covers(SHAPES[shape.shape], dx, dy, radius) {
                    rgb[(y * side + x) * 3..][..3].copy_from_slice(&colour);
                }
            }
        }
    }
    Picture {
        width: side,
        height: side,
        rgb,
    }
}

/// A centre coordinate in `[radius, extent - radius]`.
fn place(rng: &mut SplitMix64, radius: f32, extent: f32) -> f32 {
    let room = (extent - 2.0 * radius).max(0.0);
    let u = (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32;
    radius + u * room
}

/// Whether the point `(dx, dy)` from a shape's centre is inside it.
fn covers(shape: &str, dx: f32, dy: f32, radius: f32) -> bool {
    match shape {
        "circle" => dx * dx + dy * dy <= radius * radius,
        "square" => dx.abs() <= 0.85 * radius && dy.abs() <= 0.85 * radius,
        // Apex up: half-width grows from 0 at the top to `radius` at the base.
        _ => dy.abs() <= radius && dx.abs() <= (dy + radius) / 2.0,
    }
}

/// RGB bytes to model inputs `pixel / 255 - 0.5` (same layout).
fn normalise(picture: &Picture) -> impl Iterator<Item = f32> + '_ {
    picture.rgb.iter().map(|&v| v as f32 / 255.0 - 0.5)
}
