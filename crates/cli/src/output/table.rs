//! Tab-aligned tables as Docker prints them (Go's tabwriter with min width 10, padding 3, spaces).

/// Aligns tab-separated lines into columns; the last cell of a line is not padded.
pub fn align_tabs(text: &str) -> String {
    align_tabs_min(text, 10)
}

/// [`align_tabs`] with another minimum cell width (`docker top` uses 20).
pub fn align_tabs_min(text: &str, min_width: usize) -> String {
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max((cell.chars().count() + 3).max(min_width));
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_ps_header_layout() {
        let got = align_tabs("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n");
        assert_eq!(
            got,
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn columns_widen_to_the_longest_cell() {
        let got = align_tabs("A\tB\nlonger-cell-here\tx\n");
        assert_eq!(got, "A                  B\nlonger-cell-here   x\n");
    }
}
