//! The one table `make bench` prints: figure, value, unit, goal or bound, ratio, as Markdown with
//! aligned columns so it reads in a terminal and pastes into the README unchanged.

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub figure: String,
    pub value: String,
    pub unit: String,
    /// What the figure is held against (a goal, a bound, a minimum), or empty.
    pub goal: String,
    /// Goal or bound over the measured value (1.00 is the goal met exactly), or empty.
    pub ratio: String,
}

impl Row {
    pub fn new(figure: impl Into<String>, value: impl Into<String>, unit: impl Into<String>) -> Row {
        Row { figure: figure.into(), value: value.into(), unit: unit.into(), goal: String::new(), ratio: String::new() }
    }

    pub fn goal(mut self, goal: impl Into<String>) -> Row {
        self.goal = goal.into();
        self
    }

    /// A ratio with two decimals; `None` (nothing measured) leaves the cell empty.
    pub fn ratio(mut self, ratio: Option<f64>) -> Row {
        self.ratio = ratio.map(|r| format!("{r:.2}")).unwrap_or_default();
        self
    }
}

/// Rows plus notes printed under the table (conditions of the run, figures left out and why).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

const HEADERS: [&str; 5] = ["figure", "value", "unit", "goal / bound", "ratio"];

impl Table {
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn render(&self) -> String {
        let cells: Vec<[&str; 5]> = self
            .rows
            .iter()
            .map(|row| {
                [row.figure.as_str(), row.value.as_str(), row.unit.as_str(), row.goal.as_str(), row.ratio.as_str()]
            })
            .collect();
        let mut widths = HEADERS.map(|header| header.chars().count());
        for line in &cells {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        // Figures, units and goals read left to right; numbers line up on the right.
        let right_aligned = [false, true, false, false, true];
        let line = |cells: [&str; 5]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .zip(right_aligned)
                .map(|((cell, width), right)| {
                    let pad = " ".repeat(width - cell.chars().count());
                    if right { format!("{pad}{cell}") } else { format!("{cell}{pad}") }
                })
                .collect();
            format!("| {} |", padded.join(" | "))
        };
        let mut out = String::new();
        out.push_str(&line(HEADERS));
        out.push('\n');
        let rule: Vec<String> = widths
            .iter()
            .zip(right_aligned)
            .map(|(width, right)| if right { format!("{}:", "-".repeat(width + 1)) } else { "-".repeat(width + 2) })
            .collect();
        out.push_str(&format!("|{}|\n", rule.join("|")));
        for row in cells {
            out.push_str(&line(row));
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&format!("\n{note}"));
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_aligned_markdown_table_with_notes_below() {
        let mut table = Table::default();
        table.push(Row::new("BigCommerce calls per order", "1.00", "calls").goal("1").ratio(Some(1.0)));
        table.push(Row::new("drain", "61.5", "s"));
        table.note("2 cores.");

        let rendered = table.render();

        let expected = "\
| figure                      | value | unit  | goal / bound | ratio |
|-----------------------------|------:|-------|--------------|------:|
| BigCommerce calls per order |  1.00 | calls | 1            |  1.00 |
| drain                       |  61.5 | s     |              |       |

2 cores.
";
        assert_eq!(rendered, expected);
    }
}
