//! sacrebleu's tokenizers: `13a` (mteval-v13a, the WMT standard) and `none`.

/// Whitespace as Python's `str.isspace` sees it: Unicode `White_Space` plus
/// the ASCII separators U+001C to U+001F. `str.split()` and `str.rstrip()`
/// in sacrebleu split and strip on exactly these.
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Splits on runs of Python whitespace, dropping empty pieces, as Python's
/// `str.split()` with no argument does.
pub fn python_split(line: &str) -> impl Iterator<Item = &str> {
    line.split(is_python_space).filter(|t| !t.is_empty())
}

/// The characters the first 13a rule surrounds with spaces:
/// `{|}~`, `` [\]^_` ``, space to `&`, `(` to `+`, `:` to `@`, and `/`.
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Tokenizes a line exactly as sacrebleu 2.x's `tokenizer_13a` does.
///
/// In order: removes `<skipped>`, joins `-\n` line breaks, turns other
/// newlines into spaces, unescapes `&quot;`, `&amp;`, `&lt;`, `&gt;` (one
/// pass each, in that order), then splits off punctuation and symbols,
/// periods and commas unless between digits, and a dash after a digit. The
/// tokens come back joined by single spaces, with no leading or trailing
/// space. Digits here are the ASCII `0`-`9` only, as in sacrebleu's regular
/// expressions.
///
/// ```
/// assert_eq!(recur_eval::tokenize_13a("It costs $3.50, I think."), "It costs $ 3.50 , I think .");
/// ```
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut chars: Vec<char> = Vec::with_capacity(line.len() + 2);
    chars.push(' ');
    chars.extend(line.chars());
    chars.push(' ');

    // Rule 1: ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
    let mut out = Vec::with_capacity(chars.len() * 2);
    for &c in &chars {
        if is_13a_symbol(c) {
            out.extend([' ', c, ' ']);
        } else {
            out.push(c);
        }
    }
    // Rule 2: ([^0-9])([\.,]) -> "\1 \2 "
    let out = substitute_pairs(
        &out,
        |a, b| !a.is_ascii_digit() && matches!(b, '.' | ','),
        |a, b| [a, ' ', b, ' '],
    );
    // Rule 3: ([\.,])([^0-9]) -> " \1 \2"
    let out = substitute_pairs(
        &out,
        |a, b| matches!(a, '.' | ',') && !b.is_ascii_digit(),
        |a, b| [' ', a, ' ', b],
    );
    // Rule 4: ([0-9])(-) -> "\1 \2 "
    let out = substitute_pairs(
        &out,
        |a, b| a.is_ascii_digit() && b == '-',
        |a, b| [a, ' ', b, ' '],
    );

    let text: String = out.into_iter().collect();
    python_split(&text).collect::<Vec<_>>().join(" ")
}

/// One left-to-right pass of a two-character regular expression
/// substitution: non-overlapping matches, scanning resumes after each match,
/// as Python's `re.sub` does.
fn substitute_pairs(
    chars: &[char],
    matches: impl Fn(char, char) -> bool,
    replace: impl Fn(char, char) -> [char; 4],
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 2);
    let mut i = 0;
    while i < chars.len() {
        match chars.get(i + 1) {
            Some(&b) if matches(chars[i], b) => {
                out.extend(replace(chars[i], b));
                i += 2;
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}
