//! Reading a leak against one released text: align the two, then read which variant the leak
//! has at each variation point the alignment covers.
//!
//! The alignment is local (Smith–Waterman over retyped tokens), so a fragment, a copy with words
//! changed, or a text embedded in other text all align where they overlap. A point is read from
//! the leak's tokens between the nearest aligned fixed tokens around it: the variant (or, for
//! neighbouring points, the combination of variants) closest to them in edit distance, when no
//! other variant is as close. Nothing here looks at any recipient's copy, so what is read is
//! independent of every recipient who did not make the leak: the premise of the score's bound.

use std::collections::HashMap;

use crate::points::Template;
use crate::text::{tokens, Token, Tokens};

/// Cells of one alignment table; a longer leak is aligned window by window.
const MAX_CELLS: usize = 24_000_000;
/// How far from a point its anchors may be, in tokens.
const ANCHOR_REACH: usize = 24;
/// Longest stretch of leak read for one group of points, in tokens.
const MAX_SPAN: usize = 64;
/// Most variant combinations tried for neighbouring points.
const MAX_COMBINATIONS: usize = 4096;

/// A point read in the leak.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Read {
    pub point: usize,
    pub variant: usize,
    /// The site it was read at (the first, for a text-wide point read at several).
    pub site: usize,
}

/// What the leak shows of one text.
#[derive(Debug, Default)]
pub(crate) struct Reading {
    pub reads: Vec<Read>,
    /// Tokens of the text aligned to equal tokens of the leak.
    pub matched_tokens: usize,
}

pub(crate) fn read(template: &Template, leak: &[Token]) -> Reading {
    let mut tokenizer = Tokens::default();
    tokenizer.push(&template.text);
    let (text_tokens, spans) = tokenizer.finish_with_spans();
    if text_tokens.is_empty() || leak.is_empty() {
        return Reading::default();
    }
    // Token ranges of each site; which site each token belongs to.
    let mut site_of: Vec<Option<usize>> = vec![None; text_tokens.len()];
    let mut ranges = Vec::with_capacity(template.sites.len());
    for (s, site) in template.sites.iter().enumerate() {
        let first = spans.partition_point(|span| span.start < site.range.start);
        let end = spans.partition_point(|span| span.start < site.range.end);
        for slot in &mut site_of[first..end] {
            *slot = Some(s);
        }
        ranges.push(first..end);
    }
    let matched = align(&text_tokens, leak);
    let matched_tokens = matched.iter().filter(|m| m.is_some()).count();
    let anchor = |k: usize| site_of[k].is_none() && matched[k].is_some();

    // Sites grouped by the anchors around them.
    let mut groups: Vec<((usize, usize), Vec<usize>)> = Vec::new();
    for (s, range) in ranges.iter().enumerate() {
        let left = (range.start.saturating_sub(ANCHOR_REACH)..range.start).rev().find(|&k| anchor(k));
        let right = (range.end..(range.end + ANCHOR_REACH).min(text_tokens.len())).find(|&k| anchor(k));
        let (Some(left), Some(right)) = (left, right) else { continue };
        match groups.last_mut() {
            Some((anchors, sites)) if *anchors == (left, right) => sites.push(s),
            _ => groups.push(((left, right), vec![s])),
        }
    }

    let mut votes: HashMap<usize, (usize, HashMap<usize, usize>)> = HashMap::new();
    for ((left, right), sites) in groups {
        let (Some(from), Some(to)) = (matched[left], matched[right]) else { continue };
        let Some(span) = leak.get(from + 1..to) else { continue };
        for (site, variant) in read_group(template, &spans, left, right, &sites, span) {
            let point = template.sites[site].point;
            let entry = votes.entry(point).or_insert_with(|| (site, HashMap::new()));
            *entry.1.entry(variant).or_default() += 1;
        }
    }
    let mut reads: Vec<Read> = votes
        .into_iter()
        .filter_map(|(point, (site, counts))| {
            let best = counts.values().copied().max()?;
            let mut winners = counts.iter().filter(|(_, &n)| n == best);
            let (&variant, _) = winners.next()?;
            // Copies disagreeing at a text-wide point (a mix of colluders' copies) read nothing.
            winners.next().is_none().then_some(Read { point, variant, site })
        })
        .collect();
    reads.sort_by_key(|r| r.point);
    Reading { reads, matched_tokens }
}

/// The variants read at `sites`, all between the text's tokens `left` and `right`, from the
/// leak's tokens between their matches.
fn read_group(
    template: &Template,
    spans: &[std::ops::Range<usize>],
    left: usize,
    right: usize,
    sites: &[usize],
    leak: &[Token],
) -> Vec<(usize, usize)> {
    if leak.len() > MAX_SPAN {
        return Vec::new();
    }
    let combinations = sites
        .iter()
        .try_fold(1usize, |n, &s| n.checked_mul(template.sites[s].variants.len()).filter(|&n| n <= MAX_COMBINATIONS));
    let Some(combinations) = combinations else { return Vec::new() };
    let (start, end) = (spans[left].start, spans[right].start);
    let mut best: Option<usize> = None;
    let mut tied: Vec<Vec<usize>> = Vec::new();
    for combination in 0..combinations {
        let mut choice = Vec::with_capacity(sites.len());
        let mut rest = combination;
        for &s in sites {
            let arity = template.sites[s].variants.len();
            choice.push(rest % arity);
            rest /= arity;
        }
        let mut expected = String::with_capacity(end - start + 16);
        let mut at = start;
        for (&s, &c) in sites.iter().zip(&choice) {
            let site = &template.sites[s];
            expected.push_str(&template.text[at..site.range.start]);
            expected.push_str(&site.variants[c]);
            at = site.range.end;
        }
        expected.push_str(&template.text[at..end]);
        let expected = tokens(&expected);
        let distance = edit_distance(expected.get(1..).unwrap_or(&[]), leak);
        match best {
            Some(b) if distance > b => {}
            Some(b) if distance == b => tied.push(choice),
            _ => {
                best = Some(distance);
                tied = vec![choice];
            }
        }
    }
    // A site is read when every closest combination agrees on it.
    sites
        .iter()
        .enumerate()
        .filter_map(|(k, &s)| {
            let first = tied.first()?[k];
            tied.iter().all(|c| c[k] == first).then_some((s, first))
        })
        .collect()
}

fn edit_distance(a: &[Token], b: &[Token]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(x != y);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// For each token of `text`, the token of `leak` it is aligned to and equal to, by the best local
/// alignment (match +2, mismatch and gap −1).
fn align(text: &[Token], leak: &[Token]) -> Vec<Option<usize>> {
    let mut ids: HashMap<&Token, u32> = HashMap::new();
    let mut a = Vec::with_capacity(text.len());
    let mut b = Vec::with_capacity(leak.len());
    for (tokens, out) in [(text, &mut a), (leak, &mut b)] {
        for token in tokens {
            let next = ids.len() as u32;
            out.push(*ids.entry(token).or_insert(next));
        }
    }
    let window = (MAX_CELLS / a.len().max(1)).max(256);
    let mut best: (i32, Vec<Option<usize>>) = (0, vec![None; a.len()]);
    let mut from = 0;
    loop {
        let to = (from + window).min(b.len());
        let (score, matched) = smith_waterman(&a, &b[from..to]);
        if score > best.0 {
            best = (score, matched.into_iter().map(|m| m.map(|j| j + from)).collect());
        }
        if to == b.len() {
            break;
        }
        from += window / 2;
    }
    best.1
}

fn smith_waterman(a: &[u32], b: &[u32]) -> (i32, Vec<Option<usize>>) {
    const STOP: u8 = 0;
    const DIAGONAL: u8 = 1;
    const UP: u8 = 2;
    const LEFT: u8 = 3;
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    let mut from = vec![STOP; (n + 1) * width];
    let mut previous = vec![0i32; width];
    let mut current = vec![0i32; width];
    let mut best = (0i32, 0usize, 0usize);
    for i in 1..=n {
        current[0] = 0;
        for j in 1..=m {
            let diagonal = previous[j - 1] + if a[i - 1] == b[j - 1] { 2 } else { -1 };
            let up = previous[j] - 1;
            let left = current[j - 1] - 1;
            let (score, step) = if diagonal >= up && diagonal >= left && diagonal > 0 {
                (diagonal, DIAGONAL)
            } else if up >= left && up > 0 {
                (up, UP)
            } else if left > 0 {
                (left, LEFT)
            } else {
                (0, STOP)
            };
            current[j] = score;
            from[i * width + j] = step;
            if score > best.0 {
                best = (score, i, j);
            }
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let mut matched = vec![None; n];
    let (score, mut i, mut j) = best;
    while i > 0 && j > 0 {
        match from[i * width + j] {
            DIAGONAL => {
                if a[i - 1] == b[j - 1] {
                    matched[i - 1] = Some(j - 1);
                }
                i -= 1;
                j -= 1;
            }
            UP => i -= 1,
            LEFT => j -= 1,
            _ => break,
        }
    }
    (score, matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Table, SHIPPED};

    fn template(text: &str) -> Template {
        crate::points::template(&Table::parse(SHIPPED).unwrap(), text)
    }

    const TEXT: &str = "On 14 March 2026 the convoy of approximately 40 vehicles travelled 12 km towards the \
                        centre in order to resupply the garrison. Subsequently, three patrols, two drones and \
                        a helicopter carried out a search of the area, and police reported that the roads and \
                        bridges were closed.";

    #[test]
    fn every_point_of_a_whole_copy_is_read() {
        let t = template(TEXT);
        for seed in 0..20usize {
            let choices: Vec<usize> = t.points.iter().enumerate().map(|(i, p)| (seed * 7 + i * 3) % p.arity).collect();
            let copy = t.render(&choices);
            let reading = read(&t, &tokens(&copy));
            let read: Vec<(usize, usize)> = reading.reads.iter().map(|r| (r.point, r.variant)).collect();
            let expected: Vec<(usize, usize)> = choices.iter().copied().enumerate().collect();
            assert_eq!(read, expected, "copy: {copy}");
        }
    }

    #[test]
    fn a_retyped_fragment_reads_the_points_it_covers() {
        let t = template(TEXT);
        let choices: Vec<usize> = t.points.iter().map(|p| p.arity - 1).collect();
        let copy = t.render(&choices);
        let fragment: String = copy.split_whitespace().skip(6).take(30).collect::<Vec<_>>().join("\n").to_uppercase();
        let reading = read(&t, &tokens(&fragment));
        assert!(reading.reads.len() >= 4, "{:?}", reading.reads);
        assert!(reading.reads.iter().all(|r| r.variant == choices[r.point]), "{:?}", reading.reads);
    }

    #[test]
    fn unrelated_text_reads_nothing() {
        let t = template(TEXT);
        let reading = read(&t, &tokens("Completely different words about a harbour and its cranes at night."));
        assert!(reading.reads.is_empty(), "{:?}", reading.reads);
    }
}
