"""The table `make bench` prints (bench/table.py): aligned Markdown, one line per row."""

from bench.table import NONE, Row, Table, line, markdown, number, ratio

ROWS = [
    Row("dispatch", "4 000 msg/s", "≥ 2.5 x floor", False, floor="2 000 msg/s", ratio="2.00"),
    Row("idle", "0.10 % of one core", "< 0.5 %", True),
]


def test_every_line_of_the_table_has_the_same_width_and_columns():
    lines = markdown(ROWS).splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert len({len(text) for text in lines}) == 1
    assert all(text.startswith("|") and text.endswith("|") for text in lines)
    assert {text.count("|") for text in lines} == {7}
    assert set(lines[1]) == {"|", "-"}


def test_a_row_reads_in_header_order_with_its_verdict():
    cells = [c.strip() for c in markdown(ROWS).splitlines()[2].strip("|").split("|")]
    assert cells == ["dispatch", "4 000 msg/s", "2 000 msg/s", "2.00", "≥ 2.5 x floor", "MISS"]
    last = [c.strip() for c in markdown(ROWS).splitlines()[3].strip("|").split("|")]
    assert last == ["idle", "0.10 % of one core", NONE, NONE, "< 0.5 %", "PASS"]


def test_a_pipe_inside_a_cell_does_not_split_it():
    text = markdown([Row("a | b", "1", "t", True)])
    assert "a \\| b" in text.splitlines()[2]
    assert text.splitlines()[2].replace("\\|", "").count("|") == 7


def test_the_printed_line_shows_floor_and_ratio_only_when_there_are_some():
    assert line(ROWS[0]) == (
        "MISS  dispatch: 4 000 msg/s | floor 2 000 msg/s | ratio 2.00 | target ≥ 2.5 x floor"
    )
    assert line(ROWS[1]) == "PASS  idle: 0.10 % of one core | target < 0.5 %"


def test_the_table_prints_each_row_as_it_is_added(capsys):
    table = Table()
    table.add(ROWS[1])
    assert capsys.readouterr().out == line(ROWS[1]) + "\n"
    assert table.markdown() == markdown([ROWS[1]])


def test_numbers_group_thousands_with_spaces():
    assert number(1234567.8) == "1 234 568"
    assert number(999.25, 1) == "999.2"
    assert ratio(2 / 3) == "0.67"
