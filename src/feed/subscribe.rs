//! Subscribe messages per venue, built from a feed's channels and symbols, so a config can say
//! `channels = ["trades", "quotes"]` instead of writing each venue's JSON by hand. Written
//! once at start (cold); the WebSocket client resends them after every reconnect.
//!
//! | venue | trades | quotes | one frame carries |
//! |---|---|---|---|
//! | binance | `<sym>@trade` | `<sym>@bookTicker` | every stream (`SUBSCRIBE`) |
//! | coinbase (Advanced Trade) | `market_trades` | `ticker` | one channel, every product |
//! | kraken (v2) | `trade` | `ticker` | one channel, every symbol |
//! | bybit (v5) | `publicTrade.<sym>` | `orderbook.1.<sym>` | every topic |
//! | okx | `trades` | `bbo-tbt` | every (channel, instId) |
//! | bitstamp | `live_trades_<sym>` | `order_book_<sym>` | one channel |
//! | bitfinex | `trades` | `ticker` | one channel and symbol |

use super::parse::Venue;

/// A market-data channel, venue-neutral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Public trades.
    Trades,
    /// Best bid / ask.
    Quotes,
}

impl Channel {
    /// Parses a config name (`trades`, `quotes`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "trades" => Some(Channel::Trades),
            "quotes" => Some(Channel::Quotes),
            _ => None,
        }
    }
}

fn json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::Value::String(s.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(","))
}

fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The text frames that subscribe `symbols` (venue spelling) to `channels` on `venue`.
pub fn messages(venue: Venue, channels: &[Channel], symbols: &[String]) -> Vec<String> {
    if channels.is_empty() || symbols.is_empty() {
        return Vec::new();
    }
    match venue {
        Venue::Binance => {
            let mut params = Vec::new();
            for s in symbols {
                let s = s.to_ascii_lowercase();
                for c in channels {
                    params.push(match c {
                        Channel::Trades => format!("{s}@trade"),
                        Channel::Quotes => format!("{s}@bookTicker"),
                    });
                }
            }
            vec![format!(
                r#"{{"method":"SUBSCRIBE","params":{},"id":1}}"#,
                json_list(&params)
            )]
        }
        Venue::Coinbase => channels
            .iter()
            .map(|c| {
                let ch = match c {
                    Channel::Trades => "market_trades",
                    Channel::Quotes => "ticker",
                };
                format!(
                    r#"{{"type":"subscribe","product_ids":{},"channel":"{ch}"}}"#,
                    json_list(symbols)
                )
            })
            .collect(),
        Venue::Kraken => channels
            .iter()
            .map(|c| {
                let ch = match c {
                    Channel::Trades => "trade",
                    Channel::Quotes => "ticker",
                };
                format!(
                    r#"{{"method":"subscribe","params":{{"channel":"{ch}","symbol":{}}}}}"#,
                    json_list(symbols)
                )
            })
            .collect(),
        Venue::Bybit => {
            let mut args = Vec::new();
            for s in symbols {
                for c in channels {
                    args.push(match c {
                        Channel::Trades => format!("publicTrade.{s}"),
                        Channel::Quotes => format!("orderbook.1.{s}"),
                    });
                }
            }
            vec![format!(
                r#"{{"op":"subscribe","args":{}}}"#,
                json_list(&args)
            )]
        }
        Venue::Okx => {
            let mut args = Vec::new();
            for s in symbols {
                for c in channels {
                    let ch = match c {
                        Channel::Trades => "trades",
                        Channel::Quotes => "bbo-tbt",
                    };
                    args.push(format!(r#"{{"channel":"{ch}","instId":{}}}"#, q(s)));
                }
            }
            vec![format!(
                r#"{{"op":"subscribe","args":[{}]}}"#,
                args.join(",")
            )]
        }
        Venue::Bitstamp => {
            let mut out = Vec::new();
            for s in symbols {
                let s = s.to_ascii_lowercase();
                for c in channels {
                    let ch = match c {
                        Channel::Trades => format!("live_trades_{s}"),
                        Channel::Quotes => format!("order_book_{s}"),
                    };
                    out.push(format!(
                        r#"{{"event":"bts:subscribe","data":{{"channel":{}}}}}"#,
                        q(&ch)
                    ));
                }
            }
            out
        }
        Venue::Bitfinex => {
            let mut out = Vec::new();
            for s in symbols {
                for c in channels {
                    let ch = match c {
                        Channel::Trades => "trades",
                        Channel::Quotes => "ticker",
                    };
                    out.push(format!(
                        r#"{{"event":"subscribe","channel":"{ch}","symbol":{}}}"#,
                        q(s)
                    ));
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_gets_valid_json_naming_every_symbol() {
        let syms = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
        for venue in Venue::ALL {
            let msgs = messages(venue, &[Channel::Trades, Channel::Quotes], &syms);
            assert!(!msgs.is_empty(), "{venue:?}");
            let all = msgs.join("\n").to_ascii_lowercase();
            for m in &msgs {
                serde_json::from_str::<serde_json::Value>(m)
                    .unwrap_or_else(|e| panic!("{venue:?}: {m}: {e}"));
            }
            assert!(
                all.contains("btcusdt") && all.contains("ethusdt"),
                "{venue:?}: {all}"
            );
        }
        assert_eq!(
            messages(Venue::Binance, &[Channel::Trades], &["BTCUSDT".into()]),
            vec![r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#]
        );
        assert_eq!(
            messages(Venue::Okx, &[Channel::Quotes], &["BTC-USDT".into()]),
            vec![r#"{"op":"subscribe","args":[{"channel":"bbo-tbt","instId":"BTC-USDT"}]}"#]
        );
        assert!(messages(Venue::Kraken, &[], &syms).is_empty());
    }
}
