//! CPU lists in the kernel's text form: `"0-3,8,10-11"`.

/// CPU numbers at or above this are refused by [`parse_cpu_list`] (and by pinning): the kernel's
/// own limit (`NR_CPUS`) is 8192, so this bounds what a typo like `0-99999999` may allocate.
pub const MAX_CPUS: usize = 1 << 16;

/// Parses a CPU list like `"0-3,8,10-11"` (the form of `/sys/devices/system/cpu/online`,
/// `taskset -c` and `Cpus_allowed_list`).
///
/// Surrounding whitespace (a trailing newline from sysfs) and whitespace around entries are
/// ignored. The result is ascending without duplicates, so `"8,0-3,2"` gives `[0, 1, 2, 3, 8]`.
/// Errors, with a message naming the bad entry: an empty list or entry, a non-number, a
/// reversed range (`"3-1"`), a CPU number of [`MAX_CPUS`] or more.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty CPU list".to_string());
    }
    let mut cpus = Vec::new();
    for entry in s.split(',') {
        let entry = entry.trim();
        let (first, last) = match entry.split_once('-') {
            Some((a, b)) => (parse_cpu(a, entry)?, parse_cpu(b, entry)?),
            None => {
                let cpu = parse_cpu(entry, entry)?;
                (cpu, cpu)
            }
        };
        if first > last {
            return Err(format!("reversed range {entry:?} in CPU list {s:?}"));
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

fn parse_cpu(text: &str, entry: &str) -> Result<usize, String> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad CPU list entry {entry:?}: expected N or N-M"));
    }
    match text.parse::<usize>() {
        Ok(cpu) if cpu < MAX_CPUS => Ok(cpu),
        _ => Err(format!(
            "CPU number {text} in entry {entry:?} is too large (limit {MAX_CPUS})"
        )),
    }
}

/// Formats CPU numbers as a CPU list, collapsing runs: `[0, 1, 2, 3, 8, 10, 11]` gives
/// `"0-3,8,10-11"`. The input may be unsorted or repeat numbers; an empty slice gives `""`.
/// For numbers below [`MAX_CPUS`], `parse_cpu_list(&format_cpu_list(v))` is `v` sorted and
/// deduplicated.
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let first = sorted[i];
        let mut last = first;
        while i + 1 < sorted.len() && sorted[i + 1] == last + 1 {
            i += 1;
            last = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if first == last {
            out.push_str(&first.to_string());
        } else {
            out.push_str(&format!("{first}-{last}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_ranges_singles_and_whitespace() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11"),
            Ok(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("5"), Ok(vec![5]));
        assert_eq!(parse_cpu_list("0-1\n"), Ok(vec![0, 1]));
        assert_eq!(parse_cpu_list(" 2 , 4 - 5 "), Ok(vec![2, 4, 5]));
        assert_eq!(parse_cpu_list("8,0-3,2"), Ok(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list("7-7"), Ok(vec![7]));
    }

    #[test]
    fn rejects_bad_lists() {
        for bad in [
            "",
            " ",
            "\n",
            "3-1",
            "x",
            "1,x",
            "1,",
            ",1",
            "1,,2",
            "-1",
            "1-",
            "1-2-3",
            "+1",
            "0x1",
            "1.5",
            "65536",
            "0-65536",
            "99999999999999999999999",
        ] {
            let err = parse_cpu_list(bad).expect_err(bad);
            assert!(!err.is_empty(), "{bad:?}");
        }
        assert!(parse_cpu_list("3-1").unwrap_err().contains("reversed"));
        assert!(parse_cpu_list("").unwrap_err().contains("empty"));
        assert_eq!(parse_cpu_list("65535"), Ok(vec![65535]));
    }

    #[test]
    fn formats_runs() {
        assert_eq!(format_cpu_list(&[]), "");
        assert_eq!(format_cpu_list(&[4]), "4");
        assert_eq!(format_cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[11, 10, 3, 8, 0, 1, 2, 2]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[1, 3, 5]), "1,3,5");
        assert_eq!(format_cpu_list(&[0, 1]), "0-1");
    }

    #[test]
    fn round_trips_fixed_examples() {
        for s in ["0", "0-1", "0-3,8,10-11", "1,3,5-7,9", "0-65535"] {
            let cpus = parse_cpu_list(s).unwrap();
            assert_eq!(format_cpu_list(&cpus), s);
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(cpus in proptest::collection::vec(0usize..300, 0..40)) {
            let mut expected = cpus.clone();
            expected.sort_unstable();
            expected.dedup();
            let text = format_cpu_list(&cpus);
            if expected.is_empty() {
                prop_assert_eq!(text, "");
            } else {
                prop_assert_eq!(parse_cpu_list(&text), Ok(expected.clone()));
                // The formatted form is canonical: formatting the parse gives the same text.
                prop_assert_eq!(format_cpu_list(&expected), text);
            }
        }

        #[test]
        fn parse_never_panics(s in "[0-9, \\-x]{0,24}") {
            if let Ok(cpus) = parse_cpu_list(&s) {
                prop_assert!(!cpus.is_empty());
                prop_assert!(cpus.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}
