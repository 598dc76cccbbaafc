//! Candle patterns, TA-Lib compatible (to be written).
