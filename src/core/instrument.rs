//! Instruments: symbol ↔ id, tick size, lot size, decimals.
//!
//! The table has a fixed capacity chosen at start. Instruments named in the config are added
//! before any thread starts; a replay with `auto_instruments` lets the parse stage append a
//! symbol it has never seen. The parse stage is the table's only writer; every other thread
//! only reads. Each slot is a set of atomics written once and published by a `Release` store
//! of the length, so readers need no lock and no `unsafe`, and nothing allocates after `new`.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

/// Longest symbol held (bytes). Binance's longest spot symbols are well under this.
pub const MAX_SYMBOL_LEN: usize = 24;
const SYMBOL_WORDS: usize = MAX_SYMBOL_LEN / 8;

/// Dense index of an instrument in the table; every per-instrument array is indexed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct InstrumentId(pub u16);

impl InstrumentId {
    /// The index for per-instrument arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A symbol held inline, so events and records stay `Copy` and allocation-free.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Symbol {
    len: u8,
    bytes: [u8; MAX_SYMBOL_LEN],
}

impl Symbol {
    /// `None` if empty or longer than [`MAX_SYMBOL_LEN`].
    pub fn new(s: &[u8]) -> Option<Self> {
        if s.is_empty() || s.len() > MAX_SYMBOL_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_SYMBOL_LEN];
        bytes[..s.len()].copy_from_slice(s);
        Some(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    /// The symbol's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The symbol as text (symbols are ASCII; anything else shows as `?`).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    fn words(&self) -> [u64; SYMBOL_WORDS] {
        let mut w = [0u64; SYMBOL_WORDS];
        for (i, chunk) in self.bytes.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w[i] = u64::from_le_bytes(b);
        }
        w
    }

    fn from_words(len: u8, w: [u64; SYMBOL_WORDS]) -> Self {
        let mut bytes = [0u8; MAX_SYMBOL_LEN];
        for (i, word) in w.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        Self { len, bytes }
    }
}

impl std::fmt::Debug for Symbol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Static facts about one instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instrument {
    /// Exchange symbol, e.g. `BTCUSDT`.
    pub symbol: Symbol,
    /// Price increment at 10⁻⁸ scale (0.01 → 1_000_000).
    pub tick: i64,
    /// Quantity increment at 10⁻⁸ scale.
    pub lot: i64,
}

impl Instrument {
    /// Decimals to print prices with.
    pub fn price_decimals(&self) -> u32 {
        super::num::decimals_of(self.tick)
    }
    /// Decimals to print quantities with.
    pub fn qty_decimals(&self) -> u32 {
        super::num::decimals_of(self.lot)
    }
}

/// Returned when the table is full; the caller counts it and skips the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

#[derive(Default)]
struct Slot {
    len: AtomicU64,
    words: [AtomicU64; SYMBOL_WORDS],
    tick: AtomicI64,
    lot: AtomicI64,
}

/// Fixed-capacity instrument table shared by all threads of a run.
pub struct InstrumentTable {
    slots: Box<[Slot]>,
    count: AtomicUsize,
}

impl InstrumentTable {
    /// A table that can hold `capacity` instruments (at most 65,536).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, usize::from(u16::MAX) + 1);
        Self {
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            count: AtomicUsize::new(0),
        }
    }

    /// How many instruments are published.
    #[inline]
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// True when no instrument is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Capacity fixed at start.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Appends an instrument (single writer: the config loader, then the parse stage).
    /// Returns the existing id if the symbol is already present.
    pub fn insert(&self, inst: Instrument) -> Result<InstrumentId, TableFull> {
        if let Some(id) = self.lookup(inst.symbol.as_bytes()) {
            return Ok(id);
        }
        let n = self.count.load(Ordering::Relaxed);
        let slot = self.slots.get(n).ok_or(TableFull)?;
        for (dst, w) in slot.words.iter().zip(inst.symbol.words()) {
            dst.store(w, Ordering::Relaxed);
        }
        slot.len
            .store(inst.symbol.as_bytes().len() as u64, Ordering::Relaxed);
        slot.tick.store(inst.tick, Ordering::Relaxed);
        slot.lot.store(inst.lot, Ordering::Relaxed);
        // Publishes the slot's fields written above.
        self.count.store(n + 1, Ordering::Release);
        Ok(InstrumentId(n as u16))
    }

    /// The instrument with this id, if published.
    pub fn get(&self, id: InstrumentId) -> Option<Instrument> {
        if id.index() >= self.len() {
            return None;
        }
        let slot = &self.slots[id.index()];
        let mut w = [0u64; SYMBOL_WORDS];
        for (dst, src) in w.iter_mut().zip(slot.words.iter()) {
            *dst = src.load(Ordering::Relaxed);
        }
        Some(Instrument {
            symbol: Symbol::from_words(slot.len.load(Ordering::Relaxed) as u8, w),
            tick: slot.tick.load(Ordering::Relaxed),
            lot: slot.lot.load(Ordering::Relaxed),
        })
    }

    /// Finds a symbol's id. A linear scan of packed words: for the handful of instruments one
    /// lane trades this beats hashing, and it allocates nothing.
    #[inline]
    pub fn lookup(&self, symbol: &[u8]) -> Option<InstrumentId> {
        let key = Symbol::new(symbol)?;
        let words = key.words();
        let n = self.len();
        for (i, slot) in self.slots[..n].iter().enumerate() {
            if slot.len.load(Ordering::Relaxed) == symbol.len() as u64
                && slot
                    .words
                    .iter()
                    .zip(words.iter())
                    .all(|(a, b)| a.load(Ordering::Relaxed) == *b)
            {
                return Some(InstrumentId(i as u16));
            }
        }
        None
    }

    /// Symbol text for reports (cold path).
    pub fn symbol(&self, id: InstrumentId) -> String {
        self.get(id)
            .map(|i| i.symbol.as_str().to_string())
            .unwrap_or_else(|| format!("#{}", id.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(s: &str) -> Instrument {
        Instrument {
            symbol: Symbol::new(s.as_bytes()).unwrap(),
            tick: 1_000_000,
            lot: 1_000,
        }
    }

    #[test]
    fn insert_lookup_get() {
        let t = InstrumentTable::new(2);
        assert_eq!(t.insert(inst("BTCUSDT")), Ok(InstrumentId(0)));
        assert_eq!(t.insert(inst("ETHUSDT")), Ok(InstrumentId(1)));
        assert_eq!(t.insert(inst("BTCUSDT")), Ok(InstrumentId(0)));
        assert_eq!(t.insert(inst("SOLUSDT")), Err(TableFull));
        assert_eq!(t.lookup(b"ETHUSDT"), Some(InstrumentId(1)));
        assert_eq!(t.lookup(b"ETHUSD"), None);
        assert_eq!(t.lookup(b""), None);
        assert_eq!(t.get(InstrumentId(1)).unwrap().symbol.as_str(), "ETHUSDT");
        assert_eq!(t.get(InstrumentId(1)).unwrap().price_decimals(), 2);
        assert_eq!(t.get(InstrumentId(1)).unwrap().qty_decimals(), 5);
        assert!(t.get(InstrumentId(2)).is_none());
        assert_eq!(t.symbol(InstrumentId(0)), "BTCUSDT");
    }

    #[test]
    fn long_symbols_are_refused_not_truncated() {
        assert!(Symbol::new(&[b'A'; MAX_SYMBOL_LEN + 1]).is_none());
        let t = InstrumentTable::new(4);
        assert_eq!(t.lookup(&[b'A'; 40]), None);
    }
}
