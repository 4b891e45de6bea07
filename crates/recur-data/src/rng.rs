//! A tiny deterministic random number generator for shuffling.

/// SplitMix64 (Steele, Lea and Flood 2014): a 64-bit state advanced by a
/// constant and mixed. Small, fast and identical on every platform, which is
/// all that deterministic shuffling needs; not for cryptography.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by Lemire's multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// For robustness tests of readers: `valid` cut at a random length (a
    /// third of the cases), with one to four random bytes changed (a third),
    /// or both; and what was done, for the failure message. A changed byte
    /// gets one bit flipped, a random value or a printable ASCII character
    /// (which keeps text parsers going further).
    pub fn corrupt(&mut self, valid: &[u8]) -> (Vec<u8>, String) {
        let mut bytes = valid.to_vec();
        let mut what = Vec::new();
        let kind = self.below(3);
        if kind != 1 {
            let len = self.below(bytes.len() + 1);
            bytes.truncate(len);
            what.push(format!("cut to {len} bytes"));
        }
        if kind != 0 && !bytes.is_empty() {
            for _ in 0..1 + self.below(4) {
                let at = self.below(bytes.len());
                let new = match self.below(3) {
                    0 => bytes[at] ^ (1 << self.below(8)),
                    1 => self.next_u64() as u8,
                    _ => b' ' + self.below(95) as u8,
                };
                what.push(format!("byte {at} {:#04x} -> {new:#04x}", bytes[at]));
                bytes[at] = new;
            }
        }
        (bytes, what.join(", "))
    }
}
