//! TEMPORARY placeholder synthetic market (replaced by the real generator).
#![allow(missing_docs)]
pub struct SymbolSpec {
    pub symbol: String,
    pub start_price: i64,
    pub tick: i64,
    pub lot: i64,
}
pub struct SyntheticConfig {
    pub seed: u64,
    pub symbols: Vec<SymbolSpec>,
    pub msgs_per_sec: f64,
    pub start_ms: u64,
}
pub struct SyntheticMarket {
    syms: Vec<(String, String, i64, i64, i64, u64, u64)>,
    state: u64,
    t_ns: u64,
    step: u64,
    n: u64,
}
impl SyntheticMarket {
    pub fn new(cfg: &SyntheticConfig) -> Self {
        Self {
            syms: cfg
                .symbols
                .iter()
                .map(|s| {
                    (
                        s.symbol.clone(),
                        s.symbol.to_lowercase(),
                        s.start_price,
                        s.tick,
                        s.lot,
                        1_000_000_000,
                        10_000_000_000,
                    )
                })
                .collect(),
            state: cfg.seed | 1,
            t_ns: cfg.start_ms * 1_000_000,
            step: (1e9 / cfg.msgs_per_sec) as u64,
            n: 0,
        }
    }
    pub fn next_message(&mut self, out: &mut Vec<u8>) -> u64 {
        use std::io::Write;
        out.clear();
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let r = self.state;
        let i = (r % self.syms.len() as u64) as usize;
        let s = &mut self.syms[i];
        self.t_ns += self.step;
        self.n += 1;
        if r & 8 == 0 {
            s.2 += s.3;
        } else {
            s.2 -= s.3;
        }
        let ms = self.t_ns / 1_000_000;
        if r & 16 == 0 {
            s.5 += 1;
            let _ = write!(out, "{{\"stream\":\"{}@trade\",\"data\":{{\"e\":\"trade\",\"E\":{ms},\"s\":\"{}\",\"t\":{},\"p\":\"{}\",\"q\":\"{}\",\"T\":{ms},\"m\":true,\"M\":true}}}}", s.1, s.0, s.5, crate::core::num::format_scaled(s.2, 8), crate::core::num::format_scaled(s.4, 8));
        } else {
            s.6 += 1;
            let _ = write!(out, "{{\"stream\":\"{}@bookTicker\",\"data\":{{\"u\":{},\"s\":\"{}\",\"b\":\"{}\",\"B\":\"1.00000000\",\"a\":\"{}\",\"A\":\"1.00000000\"}}}}", s.1, s.6, s.0, crate::core::num::format_scaled(s.2 - s.3, 8), crate::core::num::format_scaled(s.2, 8));
        }
        self.t_ns
    }
    pub fn messages(&self) -> u64 {
        self.n
    }
}
