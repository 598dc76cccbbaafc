//! bitstamp market messages → [`Event`](super::Event)s. (Placeholder: refuses everything until the
//! parser lands.)

use super::{json, Event, MsgKind, ParseError, SymbolResolver};

/// bitstamp parser.
#[derive(Default, Debug)]
pub struct Parser;

impl Parser {
    /// Parses one message.
    pub fn parse(
        &mut self,
        buf: &[u8],
        _resolve: &mut impl SymbolResolver,
        _out: &mut impl FnMut(Event),
    ) -> Result<MsgKind, ParseError> {
        json::parse_value(buf)?;
        Err(ParseError::Unrecognised)
    }
}
