"""Line breaking inside one cue: fit the cue's units into the allowed lines, best split first."""

from __future__ import annotations

from dataclasses import dataclass

from workers.captions.units import UnitText

# Style weights (costs of the Break classes are in breaks.py). A second line costs a little
# so a short cue stays on one line; unequal lines cost in proportion to the difference.
EXTRA_LINE_COST = 1.0
BALANCE_COST = 4.0


@dataclass(frozen=True)
class Layout:
    """A way to lay a cue out.

    Attributes:
        lone_lines: lines holding one whole word alone (a single-word cue counts too).
        style: break and balance cost; lower reads better.
        stops: the end index (exclusive) of each line's units.
    """

    lone_lines: int
    style: float
    stops: tuple[int, ...]

    @property
    def key(self) -> tuple[int, float]:
        return (self.lone_lines, self.style)


def best_layout(
    text: UnitText, *, first: int, stop: int, max_chars: int, max_lines: int
) -> Layout | None:
    """A best layout of units[first:stop]: fewest lone-word lines, then lowest style cost.

    The lone-word count is always the fewest possible. With three or more lines the style
    is chosen line by line (each line's balance is weighed against the next line of the
    best layout of the rest), which is close to, not always, the lowest.

    Returns:
        None when the units do not fit in max_lines lines of max_chars characters.
    """
    if text.length(first, stop) <= max_chars:
        # One line costs no style and has a lone word only if the cue is one word.
        return Layout(lone_lines=int(text.is_lone_word(first, stop)), style=0.0, stops=(stop,))
    if max_lines == 2:
        return _best_two_lines(text, first, stop, max_chars)
    if max_lines < 2:
        return None
    best: Layout | None = None
    for cut in range(first + 1, stop):
        upper = text.length(first, cut)
        if upper > max_chars:
            break
        rest = best_layout(text, first=cut, stop=stop, max_chars=max_chars, max_lines=max_lines - 1)
        if rest is None:
            continue
        lower = text.length(cut, rest.stops[0])
        layout = Layout(
            lone_lines=int(text.is_lone_word(first, cut)) + rest.lone_lines,
            style=rest.style + _break_style(text, cut, upper, lower, max_chars),
            stops=(cut, *rest.stops),
        )
        if best is None or layout.key < best.key:
            best = layout
    return best


def _break_style(text: UnitText, cut: int, upper: int, lower: int, max_chars: int) -> float:
    """Style cost of a line break at `cut` between lines of `upper` and `lower` characters."""
    return text.break_costs[cut] + EXTRA_LINE_COST + BALANCE_COST * abs(upper - lower) / max_chars


def _best_two_lines(text: UnitText, first: int, stop: int, max_chars: int) -> Layout | None:
    """best_layout for two lines, inlined: this runs for every candidate cue."""
    starts, ends, whole, costs = text.starts, text.ends, text.is_whole_word, text.break_costs
    best_key, best_cut = (2, 0.0), 0
    for cut in range(first + 1, stop):
        upper = ends[cut] - starts[first]
        if upper > max_chars:
            break
        lower = ends[stop] - starts[cut]
        if lower > max_chars:
            continue
        lone = (cut - first == 1 and whole[first]) + (stop - cut == 1 and whole[cut])
        style = costs[cut] + EXTRA_LINE_COST + BALANCE_COST * abs(upper - lower) / max_chars
        if best_cut == 0 or (lone, style) < best_key:
            best_key, best_cut = (lone, style), cut
    if best_cut == 0:
        return None
    return Layout(lone_lines=best_key[0], style=best_key[1], stops=(best_cut, stop))
