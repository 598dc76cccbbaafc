//! A strict, zero-copy, zero-allocation JSON object scanner for exchange messages.
//!
//! Exchange messages are small flat objects whose field names are known. This scanner walks one
//! object once, handing each `key → value` pair to a callback as borrowed slices, and validates
//! the whole text against the JSON grammar on the way (strings, escapes, numbers, literals,
//! nesting), so a truncated or corrupted message is refused rather than half-read. Nested
//! objects and arrays are validated and handed over as raw slices for a second pass if needed.
//!
//! It never allocates, never panics on any input (fuzzed), and bounds nesting depth so hostile
//! input cannot overflow the stack. Keys are compared raw: escaped keys are not decoded, which
//! no venue sends; they simply match nothing.

/// Why a message is not valid JSON (or not the expected object).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Input ended inside a value.
    Eof,
    /// A byte that cannot appear there.
    Unexpected(usize),
    /// Bad escape or control character inside a string.
    BadString(usize),
    /// Number grammar violated.
    BadNumber(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Top-level value is not an object.
    NotObject,
    /// Top-level value is not an array.
    NotArray,
    /// Non-whitespace after the top-level object.
    Trailing(usize),
}

/// Deepest nesting accepted.
pub const MAX_DEPTH: u32 = 32;

/// One value, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// String contents between the quotes, escapes left as they are.
    Str(&'a [u8]),
    /// Number text.
    Num(&'a [u8]),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A whole nested object including braces.
    Object(&'a [u8]),
    /// A whole nested array including brackets.
    Array(&'a [u8]),
}

impl<'a> Value<'a> {
    /// The string's raw bytes, if a string.
    pub fn as_str(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer, if the value is a number without sign, fraction or exponent
    /// (or a string holding one, as some venues send ids).
    pub fn as_u64(&self) -> Option<u64> {
        let digits = match *self {
            Value::Num(n) | Value::Str(n) => n,
            _ => return None,
        };
        if digits.is_empty() || digits.len() > 20 {
            return None;
        }
        let mut v: u64 = 0;
        for &b in digits {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        }
        Some(v)
    }

    /// A signed integer (number or string of digits with an optional leading `-`).
    pub fn as_i64(&self) -> Option<i64> {
        let text = match *self {
            Value::Num(n) | Value::Str(n) => n,
            _ => return None,
        };
        let (neg, digits) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let mag = Value::Num(digits).as_u64()?;
        if neg {
            0i64.checked_sub_unsigned(mag)
        } else {
            i64::try_from(mag).ok()
        }
    }

    /// The text of a number, or of a string (venues send decimals both ways).
    pub fn as_text(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Num(n) | Value::Str(n) => Some(n),
            _ => None,
        }
    }

    /// The boolean, if a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// True if the word may hold `"`, `\\`, a byte below 0x20 or a non-ASCII byte (SWAR; may
/// over-report).
#[inline(always)]
fn special_byte(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero_in(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_in(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (quote | backslash | control | (w & HIGH)) != 0
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        match self.peek() {
            Some(b) if b == c => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(JsonError::Unexpected(self.pos)),
            None => Err(JsonError::Eof),
        }
    }

    /// After the opening quote; returns the contents and leaves the cursor after the closing one.
    #[inline]
    fn string(&mut self) -> Result<&'a [u8], JsonError> {
        let start = self.pos;
        // Fast path, eight bytes at a time: skip words holding no quote, no backslash and no
        // control byte (every key and value exchanges send). A false alarm only drops to the
        // byte loop below, which decides exactly.
        while let Some(chunk) = self.buf.get(self.pos..self.pos + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            if special_byte(u64::from_le_bytes(w)) {
                break;
            }
            self.pos += 8;
        }
        let mut non_ascii = false;
        loop {
            let b = self.peek().ok_or(JsonError::Eof)?;
            match b {
                b'"' => {
                    let s = &self.buf[start..self.pos];
                    // JSON text is UTF-8; checked only when a non-ASCII byte was seen (rare).
                    if non_ascii && std::str::from_utf8(s).is_err() {
                        return Err(JsonError::BadString(start));
                    }
                    self.pos += 1;
                    return Ok(s);
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek().ok_or(JsonError::Eof)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            self.pos += 1;
                            for _ in 0..4 {
                                let h = self.peek().ok_or(JsonError::Eof)?;
                                if !h.is_ascii_hexdigit() {
                                    return Err(JsonError::BadString(self.pos));
                                }
                                self.pos += 1;
                            }
                        }
                        _ => return Err(JsonError::BadString(self.pos)),
                    }
                }
                0x00..=0x1f => return Err(JsonError::BadString(self.pos)),
                0x80..=0xff => {
                    non_ascii = true;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn number(&mut self) -> Result<&'a [u8], JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            Some(_) => return Err(JsonError::BadNumber(self.pos)),
            None => return Err(JsonError::Eof),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        Ok(&self.buf[start..self.pos])
    }

    fn digits(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        if self.pos == start {
            return match self.peek() {
                None => Err(JsonError::Eof),
                Some(_) => Err(JsonError::BadNumber(self.pos)),
            };
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        let end = self.pos + word.len();
        match self.buf.get(self.pos..end) {
            Some(s) if s == word => {
                self.pos = end;
                Ok(())
            }
            Some(_) => Err(JsonError::Unexpected(self.pos)),
            None if word.starts_with(&self.buf[self.pos..]) => Err(JsonError::Eof),
            None => Err(JsonError::Unexpected(self.pos)),
        }
    }

    fn value(&mut self, depth: u32) -> Result<Value<'a>, JsonError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek().ok_or(JsonError::Eof)? {
            b'"' => {
                self.pos += 1;
                self.string().map(Value::Str)
            }
            b'{' => {
                self.object(depth + 1, b"", &mut |_, _| {})?;
                Ok(Value::Object(&self.buf[start..self.pos]))
            }
            b'[' => {
                self.array(depth + 1, &mut |_| {})?;
                Ok(Value::Array(&self.buf[start..self.pos]))
            }
            b't' => self.literal(b"true").map(|_| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|_| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|_| Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(Value::Num),
            _ => Err(JsonError::Unexpected(self.pos)),
        }
    }

    fn array<F: FnMut(Value<'a>)>(&mut self, depth: u32, f: &mut F) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.expect(b'[')?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let v = self.value(depth)?;
            f(v);
            self.skip_ws();
            match self.peek().ok_or(JsonError::Eof)? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(JsonError::Unexpected(self.pos)),
            }
        }
    }

    fn object<F: FnMut(&'a [u8], Value<'a>)>(
        &mut self,
        depth: u32,
        descend: &[u8],
        f: &mut F,
    ) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            self.expect(b'"')?;
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            if !descend.is_empty() && key == descend && self.peek() == Some(b'{') {
                // One pass over a wrapped payload: its members go to the same callback.
                self.object(depth + 1, b"", f)?;
            } else {
                let v = self.value(depth)?;
                f(key, v);
            }
            self.skip_ws();
            match self.peek().ok_or(JsonError::Eof)? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(JsonError::Unexpected(self.pos)),
            }
        }
    }
}

/// Walks the top-level object in `buf`, calling `f(key, value)` for each member in order.
/// The whole input must be exactly one object (surrounding whitespace allowed).
pub fn for_each_member<'a>(
    buf: &'a [u8],
    f: impl FnMut(&'a [u8], Value<'a>),
) -> Result<(), JsonError> {
    for_each_member_flat(buf, b"", f)
}

/// Like [`for_each_member`], but when the top-level member named `descend` holds an object,
/// that object's members are handed to `f` in its place (validated the same way), so an
/// envelope such as `{"stream":..,"data":{..}}` is walked in one pass.
pub fn for_each_member_flat<'a>(
    buf: &'a [u8],
    descend: &[u8],
    mut f: impl FnMut(&'a [u8], Value<'a>),
) -> Result<(), JsonError> {
    let mut c = Cursor { buf, pos: 0 };
    c.skip_ws();
    match c.peek() {
        Some(b'{') => {}
        Some(_) => return Err(JsonError::NotObject),
        None => return Err(JsonError::Eof),
    }
    c.object(1, descend, &mut f)?;
    c.skip_ws();
    if c.pos != buf.len() {
        return Err(JsonError::Trailing(c.pos));
    }
    Ok(())
}

/// Walks the top-level array in `buf`, calling `f(value)` for each element in order. The whole
/// input must be exactly one array (surrounding whitespace allowed); nested values are
/// validated and handed over as raw slices, like object members.
pub fn for_each_element<'a>(buf: &'a [u8], mut f: impl FnMut(Value<'a>)) -> Result<(), JsonError> {
    let mut c = Cursor { buf, pos: 0 };
    c.skip_ws();
    match c.peek() {
        Some(b'[') => {}
        Some(_) => return Err(JsonError::NotArray),
        None => return Err(JsonError::Eof),
    }
    c.array(1, &mut f)?;
    c.skip_ws();
    if c.pos != buf.len() {
        return Err(JsonError::Trailing(c.pos));
    }
    Ok(())
}

/// Validates `buf` as exactly one JSON value of any type and returns it.
pub fn parse_value(buf: &[u8]) -> Result<Value<'_>, JsonError> {
    let mut c = Cursor { buf, pos: 0 };
    let v = c.value(0)?;
    c.skip_ws();
    if c.pos != buf.len() {
        return Err(JsonError::Trailing(c.pos));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &str) -> Result<Vec<(String, String)>, JsonError> {
        let mut out = Vec::new();
        for_each_member(s.as_bytes(), |k, v| {
            out.push((String::from_utf8_lossy(k).into(), format!("{v:?}")));
        })?;
        Ok(out)
    }

    #[test]
    fn walks_a_real_trade() {
        let msg = r#"{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}"#;
        let m = members(msg).unwrap();
        assert_eq!(m.len(), 9);
        assert_eq!(m[0].0, "e");
        assert_eq!(m[7], ("m".into(), "Bool(true)".into()));
    }

    #[test]
    fn accepts_valid_json_shapes() {
        for s in [
            "{}",
            " { } ",
            r#"{"a":[],"b":{},"c":[1,-2.5e+3,"x",null,true,false,{"d":[[]]}]}"#,
            r#"{"s":"a\"b\\c\/\u00e9\n"}"#,
            "{\"a\" : 0 , \"b\":-0.0}\n",
        ] {
            assert!(members(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn refuses_malformed_json() {
        for s in [
            "",
            "[]",
            "{",
            r#"{"a":1"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"abc}"#,
            r#"{"a":1}x"#,
            r#"{"a":[1,]}"#,
            r#"{a:1}"#,
        ] {
            assert!(members(s).is_err(), "{s:?}");
        }
        for s in [
            &b"{\"a\":\"\xff\"}"[..],
            b"{\"\xc3\":1}",
            b"{\"a\":\"\xed\xa0\x80\"}",
        ] {
            assert!(for_each_member(s, |_, _| {}).is_err(), "{s:?}");
        }
        assert!(for_each_member("{\"é\":\"日本\"}".as_bytes(), |_, _| {}).is_ok());
    }

    #[test]
    fn flat_walk_descends_into_one_member() {
        let mut keys = Vec::new();
        for_each_member_flat(
            br#"{"stream":"x","data":{"e":"t","n":{"a":1}},"z":[]}"#,
            b"data",
            |k, _| keys.push(String::from_utf8_lossy(k).into_owned()),
        )
        .unwrap();
        assert_eq!(keys, ["stream", "e", "n", "z"]);
        assert!(for_each_member_flat(br#"{"data":{"e":1,}}"#, b"data", |_, _| {}).is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(members(&deep), Err(JsonError::TooDeep));
    }

    #[test]
    fn integers() {
        assert_eq!(Value::Num(b"18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(Value::Num(b"18446744073709551616").as_u64(), None);
        assert_eq!(Value::Num(b"-1").as_u64(), None);
        assert_eq!(Value::Num(b"1.0").as_u64(), None);
        assert_eq!(Value::Str(b"42").as_u64(), Some(42));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = for_each_member(&bytes, |_, _| {});
        }

        #[test]
        fn agrees_with_serde_json_on_validity(s in "[{}\\[\\]\":,0-9a-z.\\- ]{0,40}") {
            let ours = for_each_member(s.as_bytes(), |_, _| {}).is_ok();
            let theirs = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&s).is_ok();
            proptest::prop_assert_eq!(ours, theirs, "{:?}", s);
        }
    }
}
