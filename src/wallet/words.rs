//! Splitting an interactive command line into arguments: words separated by white
//! space, `"quoted strings"` (JSON escapes) and JSON objects or arrays, which may
//! contain spaces, as one argument each.

/// Splits `line`; an unterminated quote or bracket is an error that says which.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match chars[i] {
            '"' => {
                i = skip_string(&chars, i)?;
                let quoted: String = chars[start..i].iter().collect();
                let text: String = serde_json::from_str(&quoted)
                    .map_err(|e| format!("bad quoted argument {quoted}: {e}"))?;
                out.push(text);
            }
            '{' | '[' => {
                let mut depth = 0usize;
                loop {
                    if i >= chars.len() {
                        let opened: String = chars[start..].iter().collect();
                        return Err(format!("unterminated JSON argument {opened}"));
                    }
                    match chars[i] {
                        '"' => {
                            i = skip_string(&chars, i)?;
                            continue;
                        }
                        '{' | '[' => depth += 1,
                        '}' | ']' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                out.push(chars[start..i].iter().collect());
            }
            _ => {
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                out.push(chars[start..i].iter().collect());
            }
        }
    }
    Ok(out)
}

/// The index just past the JSON string that starts at `i`.
fn skip_string(chars: &[char], mut i: usize) -> Result<usize, String> {
    let start = i;
    i += 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    let opened: String = chars[start..].iter().collect();
    Err(format!("unterminated quote {opened}"))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words_quotes_and_json() {
        assert_eq!(
            split(r#"transfer dev alice 1.5 CORE "rent for \"March\"" true"#).unwrap(),
            [
                "transfer",
                "dev",
                "alice",
                "1.5",
                "CORE",
                "rent for \"March\"",
                "true"
            ]
        );
        assert_eq!(
            split(r#"create_asset dev GOLD 3 {"description": "a } b", "flags": [1, 2]} null true"#)
                .unwrap(),
            [
                "create_asset",
                "dev",
                "GOLD",
                "3",
                r#"{"description": "a } b", "flags": [1, 2]}"#,
                "null",
                "true"
            ]
        );
        assert_eq!(split("   ").unwrap(), Vec::<String>::new());
        assert_eq!(split(r#""""#).unwrap(), [""]);
    }

    #[test]
    fn unterminated_input_is_an_error() {
        assert!(split(r#"transfer "open"#)
            .unwrap_err()
            .contains("unterminated quote"));
        assert!(split(r#"x {"a": [1}"#)
            .unwrap_err()
            .contains("unterminated JSON"));
        assert!(split(r#"x "\"#).unwrap_err().contains("unterminated quote"));
    }
}
