//! Placeholder reference decoder: refuses everything until written.
use super::{Ref, Reference};

#[derive(Default)]
pub struct Decoder;

impl Reference for Decoder {
    fn decode(&mut self, _line: &[u8]) -> Result<Vec<Ref>, String> {
        Err("no reference decoder yet".into())
    }
}
