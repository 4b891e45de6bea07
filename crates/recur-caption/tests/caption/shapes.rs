use recur_caption::shapes::{COLOURS, HELD_OUT, SHAPES, ShapesConfig, generate};
use recur_data::Split;

fn small() -> ShapesConfig {
    ShapesConfig::new()
        .with_train(300)
        .with_valid(30)
        .with_test(30)
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = generate(&small());
    let b = generate(&small());
    assert_eq!(a, b);
    let c = generate(&small().with_seed(8));
    assert_ne!(a.inputs, c.inputs);
    assert_eq!(a.images.len(), 360);
    assert_eq!(a.input_size, 3 * 32 * 32);
    assert_eq!(a.inputs.len(), 360 * a.input_size);
}

#[test]
fn held_out_combinations_only_in_test() {
    let data = generate(&small());
    let held: Vec<String> = HELD_OUT.iter().map(|(c, s)| format!("{c} {s}")).collect();
    for image in &data.images {
        let has = |caption: &String| held.iter().any(|h| caption.contains(h.as_str()));
        match image.split {
            Split::Test => assert!(has(&image.captions[0]), "{:?}", image.captions),
            _ => assert!(!image.captions.iter().any(has), "{:?}", image.captions),
        }
    }
    // Every colour and every shape still occurs in training.
    let train: String = data
        .split(Split::Train)
        .iter()
        .map(|&i| data.images[i].captions[0].clone())
        .collect::<Vec<_>>()
        .join(" ");
    for word in COLOURS.iter().map(|c| c.0).chain(SHAPES) {
        assert!(train.contains(word), "{word} never in training");
    }
}

#[test]
fn captions_describe_the_picture() {
    let data = generate(&ShapesConfig::new().with_train(1).with_valid(0).with_test(0));
    let image = &data.images[0];
    let [first, second] = [&image.captions[0], &image.captions[1]];
    let relation = ["above", "to the left of"]
        .into_iter()
        .find(|r| first.contains(r))
        .unwrap();
    let converse = if relation == "above" {
        "below"
    } else {
        "to the right of"
    };
    assert!(second.contains(converse), "{first} / {second}");
    // The picture shows the first caption's colours.
    let picture = image.picture.as_ref().unwrap();
    for (name, rgb) in COLOURS {
        let drawn = picture.rgb.chunks(3).any(|p| p == rgb);
        assert_eq!(drawn, first.contains(name), "{name} in {first}");
    }
}
