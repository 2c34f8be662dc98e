//! Amounts as people type them: a decimal string read at the asset's precision.

use crate::protocol::asset::MAX_SHARE_SUPPLY;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("malformed amount {0:?}: expected digits with at most one decimal point, like 12.5")]
    Malformed(String),
    #[error("amount {text:?} has more than the {precision} decimals that {symbol} allows")]
    TooPrecise {
        text: String,
        precision: u8,
        symbol: String,
    },
    #[error("amount {0:?} must be more than zero")]
    NotPositive(String),
    #[error("amount {0:?} is larger than the largest possible supply")]
    TooLarge(String),
}

/// Reads `text` (like `12.345`) as satoshis of an asset with `precision` decimals.
/// Refuses signs, exponents, empty parts, too many decimals, zero and overflow.
pub fn parse_amount(text: &str, precision: u8, symbol: &str) -> Result<i64, AmountError> {
    let malformed = || AmountError::Malformed(text.to_string());
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) || (whole.is_empty() && frac.is_empty()) {
        return Err(malformed());
    }
    if text.ends_with('.') || text.starts_with('.') {
        return Err(malformed());
    }
    if frac.len() > precision as usize {
        return Err(AmountError::TooPrecise {
            text: text.to_string(),
            precision,
            symbol: symbol.to_string(),
        });
    }
    let too_large = || AmountError::TooLarge(text.to_string());
    // Leading zeros are fine; more than 19 significant digits overflow anyway.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 19 {
        return Err(too_large());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| malformed())?
    };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| malformed())?
    };
    let scale = 10u128.pow(precision as u32);
    let frac_scaled = frac_value * 10u128.pow((precision as usize - frac.len()) as u32);
    let total = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_scaled))
        .ok_or_else(too_large)?;
    if total > MAX_SHARE_SUPPLY as u128 {
        return Err(too_large());
    }
    if total == 0 {
        return Err(AmountError::NotPositive(text.to_string()));
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::asset::format_amount;
    use proptest::prelude::*;

    #[test]
    fn reads_amounts_at_the_asset_precision() {
        assert_eq!(parse_amount("12.345", 5, "CORE"), Ok(1_234_500));
        assert_eq!(parse_amount("12", 5, "CORE"), Ok(1_200_000));
        assert_eq!(parse_amount("0.00001", 5, "CORE"), Ok(1));
        assert_eq!(parse_amount("007", 0, "GOLD"), Ok(7));
        assert_eq!(parse_amount("10000000000", 5, "CORE"), Ok(MAX_SHARE_SUPPLY));
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        for bad in [
            "", ".", "1.", ".5", "1.2.3", "-1", "+1", "1e5", "12,5", " 1", "abc",
        ] {
            assert_eq!(
                parse_amount(bad, 5, "CORE"),
                Err(AmountError::Malformed(bad.into())),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_amount("1.123456", 5, "CORE"),
            Err(AmountError::TooPrecise { precision: 5, .. })
        ));
        assert!(matches!(
            parse_amount("0.000", 5, "CORE"),
            Err(AmountError::NotPositive(_))
        ));
        assert!(matches!(
            parse_amount("10000000000.00001", 5, "CORE"),
            Err(AmountError::TooLarge(_))
        ));
        assert!(matches!(
            parse_amount("99999999999999999999999999", 0, "X"),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn messages_name_the_problem() {
        let e = parse_amount("1.123", 2, "GOLD").unwrap_err().to_string();
        assert!(e.contains("2 decimals") && e.contains("GOLD"), "{e}");
        let e = parse_amount("12x", 2, "GOLD").unwrap_err().to_string();
        assert!(e.contains("malformed amount \"12x\""), "{e}");
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_gives_the_amount_back(
            amount in 1i64..=MAX_SHARE_SUPPLY, precision in 0u8..=12
        ) {
            let text = format_amount(amount, precision);
            prop_assert_eq!(parse_amount(&text, precision, "X"), Ok(amount));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,30}", precision in 0u8..=12) {
            let _ = parse_amount(&text, precision, "X");
        }
    }
}
