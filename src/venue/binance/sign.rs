//! Request signatures for Binance's SIGNED endpoints.
//!
//! - **HMAC-SHA256** keys: the signature is the lower-case hex HMAC of the exact payload
//!   (the query string, or the request body, as sent), keyed by the secret.
//! - **Ed25519** keys: the signature is the base64 Ed25519 signature of the payload, made with
//!   the PKCS#8 private key whose public half was registered; in a query string it is
//!   percent-encoded (`+`, `/`, `=`).
//!
//! Key material never leaves this module in text form: `Debug` prints the kind only.

use base64::Engine as _;
use ring::hmac;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

/// Why a key cannot be used (never names the key's bytes).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// An HMAC secret must not be empty.
    #[error("the HMAC secret is empty")]
    EmptySecret,
    /// Not a PEM `PRIVATE KEY` block.
    #[error("the Ed25519 private key is not a PEM \"PRIVATE KEY\" block")]
    NotPem,
    /// The PEM body is not base64 or not an Ed25519 PKCS#8 key.
    #[error("the Ed25519 private key is not a PKCS#8 Ed25519 key")]
    NotEd25519,
}

/// Signs payloads with one API key's secret.
pub enum Signer {
    /// HMAC-SHA256 with the secret key.
    Hmac(hmac::Key),
    /// Ed25519 with the private key.
    Ed25519(Box<Ed25519KeyPair>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signer::Hmac(_) => "Signer(hmac-sha256, redacted)",
            Signer::Ed25519(_) => "Signer(ed25519, redacted)",
        })
    }
}

impl Signer {
    /// An HMAC-SHA256 signer keyed by `secret` (the secret's ASCII bytes, as Binance gives it).
    pub fn hmac(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(Signer::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// An Ed25519 signer from a PEM `-----BEGIN PRIVATE KEY-----` block (PKCS#8, as
    /// `openssl genpkey -algorithm ed25519` writes it).
    pub fn ed25519_pem(pem: &str) -> Result<Self, KeyError> {
        let begin = "-----BEGIN PRIVATE KEY-----";
        let end = "-----END PRIVATE KEY-----";
        let start = pem.find(begin).ok_or(KeyError::NotPem)? + begin.len();
        let stop = pem[start..].find(end).ok_or(KeyError::NotPem)? + start;
        let body: String = pem[start..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| KeyError::NotEd25519)?;
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map(|k| Signer::Ed25519(Box::new(k)))
            .map_err(|_| KeyError::NotEd25519)
    }

    /// The raw signature of `payload`: 32 HMAC bytes or 64 Ed25519 bytes.
    pub fn sign_raw(&self, payload: &[u8]) -> Vec<u8> {
        match self {
            Signer::Hmac(k) => hmac::sign(k, payload).as_ref().to_vec(),
            Signer::Ed25519(k) => k.sign(payload).as_ref().to_vec(),
        }
    }

    /// The `signature` parameter for `payload`, ready for a query string or form body:
    /// lower-case hex (HMAC) or percent-encoded base64 (Ed25519).
    pub fn sign(&self, payload: &[u8]) -> String {
        let raw = self.sign_raw(payload);
        match self {
            Signer::Hmac(_) => hex(&raw),
            Signer::Ed25519(_) => {
                percent_encode(&base64::engine::general_purpose::STANDARD.encode(raw))
            }
        }
    }

    /// The Ed25519 public key (to register with the venue); `None` for HMAC.
    pub fn public_key(&self) -> Option<Vec<u8>> {
        match self {
            Signer::Hmac(_) => None,
            Signer::Ed25519(k) => Some(k.public_key().as_ref().to_vec()),
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(D[usize::from(b >> 4)]));
        s.push(char::from(D[usize::from(b & 15)]));
    }
    s
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's own example (REST API docs, "SIGNED request example (HMAC)"): this key,
    /// this query string, this signature.
    #[test]
    fn hmac_reproduces_binances_documented_example() {
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let s = Signer::hmac(secret.as_bytes()).unwrap();
        assert_eq!(
            s.sign(query.as_bytes()),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        // One byte more and it differs.
        assert_ne!(
            s.sign(format!("{query}1").as_bytes()),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        assert_eq!(format!("{s:?}"), "Signer(hmac-sha256, redacted)");
        assert_eq!(Signer::hmac(b"").unwrap_err(), KeyError::EmptySecret);
    }

    /// RFC 8032 test 1's secret key wrapped as PKCS#8 v1 (what `openssl genpkey` writes):
    /// the signature of the empty message is the RFC's.
    #[test]
    fn ed25519_signs_like_rfc8032_and_verifies() {
        let seed: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        let s = Signer::ed25519_pem(&pem).unwrap();
        assert_eq!(
            hex(&s.public_key().unwrap()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex(&s.sign_raw(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        // Verified with the public key; the query form is percent-encoded base64.
        let msg = b"symbol=BTCUSDT&side=SELL&timestamp=1668481559918";
        let sig = s.sign_raw(msg);
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, s.public_key().unwrap())
            .verify(msg, &sig)
            .unwrap();
        let q = s.sign(msg);
        assert!(
            !q.contains('+') && !q.contains('/') && !q.contains('='),
            "{q}"
        );
        assert_eq!(format!("{s:?}"), "Signer(ed25519, redacted)");
        assert_eq!(Signer::ed25519_pem("junk").unwrap_err(), KeyError::NotPem);
        assert_eq!(
            Signer::ed25519_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .unwrap_err(),
            KeyError::NotEd25519
        );
    }
}
