//! Every text reader on good files and on each kind of bad file, checking
//! the exact one-line message (`.npy` matrices are in `npy.rs`).

use recur_data::{
    FlickrCaption, Split, read_flickr_captions, read_karpathy_split, read_parallel, read_text,
};

use crate::common::{message, scratch, shown, write};

#[test]
fn text_reads_and_rejects_invalid_utf8() {
    let dir = scratch("text");
    let path = write(&dir, "good.txt", "héllo\nworld\n");
    assert_eq!(read_text(&path).unwrap(), "héllo\nworld\n");

    let path = write(&dir, "bad.txt", b"ok\nfine\nbr\xffoken\n");
    assert_eq!(
        message(read_text(&path)),
        format!("{}:3: invalid UTF-8 at byte 10", shown(&path))
    );
    let missing = dir.join("missing.txt");
    assert!(message(read_text(&missing)).starts_with(&format!("{}: ", shown(&missing))));
}

#[test]
fn parallel_text() {
    let dir = scratch("parallel");
    let path = write(&dir, "good.tsv", "Go.\tVa !\r\nHi.\tSalut !\n");
    assert_eq!(
        read_parallel(&path).unwrap(),
        [
            ("Go.".to_string(), "Va !".to_string()),
            ("Hi.".to_string(), "Salut !".to_string())
        ]
    );

    let path = write(&dir, "three.tsv", "a\tb\nc\td\te\n");
    assert_eq!(
        message(read_parallel(&path)),
        format!(
            "{}:2: expected 2 tab-separated columns, found 3",
            shown(&path)
        )
    );
    let path = write(&dir, "one.tsv", "a\tb\n\nc\td\n");
    assert_eq!(
        message(read_parallel(&path)),
        format!(
            "{}:2: expected 2 tab-separated columns, found 1",
            shown(&path)
        )
    );
    let path = write(&dir, "utf8.tsv", b"a\tb\n\xc3\tb\n");
    assert_eq!(
        message(read_parallel(&path)),
        format!("{}:2: invalid UTF-8 at byte 4", shown(&path))
    );
}

#[test]
fn flickr_captions() {
    let dir = scratch("flickr");
    let path = write(
        &dir,
        "image_captions.token",
        "1000_a.jpg#0\tA child in pink .\n1000_a.jpg#1\tA girl going up .\n",
    );
    assert_eq!(
        read_flickr_captions(&path).unwrap(),
        [
            FlickrCaption {
                image: "1000_a.jpg".into(),
                index: 0,
                caption: "A child in pink .".into()
            },
            FlickrCaption {
                image: "1000_a.jpg".into(),
                index: 1,
                caption: "A girl going up .".into()
            },
        ]
    );

    let path = write(
        &dir,
        "notab.token",
        "1000_a.jpg#0\tok\n1000_a.jpg#1 no tab\n",
    );
    assert_eq!(
        message(read_flickr_captions(&path)),
        format!("{}:2: expected `name.jpg#k<TAB>caption`", shown(&path))
    );
    let path = write(&dir, "nohash.token", "1000_a.jpg\tA dog .\n");
    assert_eq!(
        message(read_flickr_captions(&path)),
        format!("{}:1: `1000_a.jpg` is not `name.jpg#k`", shown(&path))
    );
    let path = write(&dir, "number.token", "a.jpg#0\tx\na.jpg#one\ty\n");
    assert_eq!(
        message(read_flickr_captions(&path)),
        format!(
            "{}:2: `one` in `a.jpg#one` is not a caption number",
            shown(&path)
        )
    );
}

#[test]
fn karpathy_split() {
    let dir = scratch("karpathy");
    let path = write(
        &dir,
        "dataset.json",
        r#"{"dataset": "flickr8k", "images": [
            {"filename": "a.jpg", "split": "train", "imgid": 0, "sentences": [
                {"raw": "A dog.", "tokens": ["a", "dog"], "sentid": 0}]},
            {"filename": "b.jpg", "split": "restval", "sentences": []},
            {"filename": "c.jpg", "split": "val", "sentences": []},
            {"filename": "d.jpg", "split": "test", "sentences": []}]}"#,
    );
    let split = read_karpathy_split(&path).unwrap();
    assert_eq!(split.images.len(), 4);
    assert_eq!(split.images[0].filename, "a.jpg");
    assert_eq!(split.images[0].split, Split::Train);
    assert_eq!(split.images[0].sentences[0].raw, "A dog.");
    assert_eq!(split.images[0].sentences[0].tokens, ["a", "dog"]);
    let splits: Vec<Split> = split.images.iter().map(|i| i.split).collect();
    assert_eq!(
        splits,
        [Split::Train, Split::Restval, Split::Val, Split::Test]
    );

    let path = write(
        &dir,
        "split.json",
        "{\"images\": [\n{\"filename\": \"a.jpg\", \"split\": \"dev\", \"sentences\": []}]}",
    );
    assert_eq!(
        message(read_karpathy_split(&path)),
        format!(
            "{}: unknown variant `dev`, expected one of `train`, `val`, `test`, `restval` at line 2 column 36",
            shown(&path)
        )
    );
    let path = write(
        &dir,
        "field.json",
        "{\"images\": [\n{\"split\": \"val\", \"sentences\": []}]}",
    );
    assert_eq!(
        message(read_karpathy_split(&path)),
        format!(
            "{}: missing field `filename` at line 2 column 33",
            shown(&path)
        )
    );
    let path = write(&dir, "syntax.json", "{\"images\": [\n\n{,]}");
    assert_eq!(
        message(read_karpathy_split(&path)),
        format!("{}: key must be a string at line 3 column 2", shown(&path))
    );
}
