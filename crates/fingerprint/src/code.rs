//! The code: a q-ary Tardos code with the symmetric score of Škorić, Katzenbeisser and Celik
//! (2008), generated lazily by a keyed pseudo-random function, and the Chernoff bound that sets
//! the accusation threshold.
//!
//! Every point `i` of a text has a secret bias `p_i`, a probability vector over its `q_i`
//! variants drawn from a symmetric Dirichlet distribution (parameter `kappa`) and kept at least
//! `cutoff / q_i` per variant. Recipient `j` gets variant `x_ji`, drawn from `p_i`. Both draws
//! come from HMAC-SHA-256 under the hub's key, of the text's id, the point and (for `x`) the
//! recipient: the same recipient always gets the same copy, and nothing is stored to make it so.
//!
//! Reading variant `y_i` in a leak, recipient `j` scores `sqrt((1 - p)/p)` where `x_ji = y_i`
//! and `-sqrt(p/(1 - p))` elsewhere, `p = p_i[y_i]`. An innocent recipient's variants are
//! independent of the leak (which its holders made from their own copies), so each term has
//! mean 0 and variance 1, and its moment generating function is known exactly: a Chernoff bound
//! gives the tail of its sum. Beside it, the partner test ([`partner_ratio`]) is a likelihood
//! ratio of mean 1 under innocence for colluders mixing sentences. [`evidence`] combines the two
//! so that an innocent recipient reaches evidence `t` with probability at most `e^-t`; accusing
//! at `ln(n / epsilon)` for `n` recipients bounds a trace's false accusation at `epsilon`,
//! whatever the colluders did and however well the leak was read.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Settings of the code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodeParams {
    /// Bound on the probability that a trace accuses any innocent recipient.
    pub epsilon: f64,
    /// Dirichlet parameter of the biases: small favours catching colluders, large a lone leaker.
    pub kappa: f64,
    /// Each variant's probability is at least `cutoff / q`, so no score term is huge.
    pub cutoff: f64,
}

impl Default for CodeParams {
    fn default() -> Self {
        CodeParams { epsilon: 1e-6, kappa: 4.0, cutoff: 0.3 }
    }
}

/// The keyed pseudo-random function: HMAC-SHA-256 of a domain and length-prefixed parts.
#[derive(Clone)]
pub(crate) struct Prf {
    mac: Hmac<Sha256>,
}

impl Prf {
    /// A PRF under `key`: SHA-256 of the secret, zero-padded to the block (RFC 2104).
    pub fn new(secret: &[u8]) -> Prf {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&Sha256::digest(secret));
        Prf { mac: <Hmac<Sha256> as KeyInit>::new(&block.into()) }
    }

    pub fn bytes(&self, domain: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(domain.as_bytes());
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Four uniform numbers in [0, 1).
    pub fn uniforms(&self, domain: &str, parts: &[&[u8]]) -> [f64; 4] {
        let bytes = self.bytes(domain, parts);
        let mut out = [0.0; 4];
        for (value, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            // 53 random bits: exactly representable, uniform on [0, 1).
            *value = (u64::from_be_bytes(word) >> 11) as f64 / (1u64 << 53) as f64;
        }
        out
    }
}

/// An endless stream of uniforms for one point's bias.
struct Stream<'a> {
    prf: &'a Prf,
    text: &'a [u8],
    point: [u8; 8],
    counter: u64,
    buffer: [f64; 4],
    used: usize,
}

impl Stream<'_> {
    fn next(&mut self) -> f64 {
        if self.used == 4 {
            self.buffer = self.prf.uniforms("bias", &[self.text, &self.point, &self.counter.to_be_bytes()]);
            self.counter += 1;
            self.used = 0;
        }
        self.used += 1;
        self.buffer[self.used - 1]
    }

    /// A standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.next();
        let v = self.next();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang, boosted below shape 1.
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let boost = (1.0 - self.next()).powf(1.0 / shape);
            return self.gamma(shape + 1.0) * boost;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - self.next();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

/// Point `point`'s bias over `arity` variants.
pub(crate) fn bias(prf: &Prf, params: &CodeParams, text: &str, point: usize, arity: usize) -> Vec<f64> {
    let mut stream = Stream {
        prf,
        text: text.as_bytes(),
        point: (point as u64).to_be_bytes(),
        counter: 0,
        buffer: [0.0; 4],
        used: 4,
    };
    let draws: Vec<f64> = (0..arity).map(|_| stream.gamma(params.kappa).max(f64::MIN_POSITIVE)).collect();
    let total: f64 = draws.iter().sum();
    let floor = params.cutoff / arity as f64;
    // p = floor + (1 - q·floor)·dirichlet: every variant at least `floor`, summing to 1.
    draws.iter().map(|d| floor + (1.0 - floor * arity as f64) * d / total).collect()
}

/// Recipient `party`'s variant at each of `points` (point index, its bias).
pub(crate) fn symbols(prf: &Prf, text: &str, party: &str, points: &[(usize, &[f64])]) -> Vec<usize> {
    let mut block: Option<(usize, [f64; 4])> = None;
    points
        .iter()
        .map(|&(point, bias)| {
            let index = point / 4;
            let uniforms = match block {
                Some((b, u)) if b == index => u,
                _ => {
                    let u = prf.uniforms("symbol", &[text.as_bytes(), party.as_bytes(), &(index as u64).to_be_bytes()]);
                    block = Some((index, u));
                    u
                }
            };
            pick(bias, uniforms[point % 4])
        })
        .collect()
}

/// The variant a uniform `u` selects under `bias`.
fn pick(bias: &[f64], u: f64) -> usize {
    let mut total = 0.0;
    for (i, p) in bias.iter().enumerate() {
        total += p;
        if u < total {
            return i;
        }
    }
    bias.len().saturating_sub(1)
}

/// A recipient's score term at a point where the leak reads a variant of probability `p`.
pub(crate) fn term(p: f64, agrees: bool) -> f64 {
    if agrees {
        ((1.0 - p) / p).sqrt()
    } else {
        -(p / (1.0 - p)).sqrt()
    }
}

/// The cumulant generating function of an innocent recipient's score over points read with
/// probabilities `ps`.
fn cumulant(ps: &[f64], lambda: f64) -> f64 {
    ps.iter()
        .map(|&p| {
            let (a, b) = (lambda * term(p, true) + p.ln(), -lambda * term(p, false).abs() + (1.0 - p).ln());
            let high = a.max(b);
            high + ((a - high).exp() + (b - high).exp()).ln()
        })
        .sum()
}

/// Least of a unimodal function over `ln λ ∈ [-10, 4]`, by golden-section search.
fn minimise(f: impl Fn(f64) -> f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut low, mut high) = (-10.0f64, 4.0f64);
    let mut a = high - ratio * (high - low);
    let mut b = low + ratio * (high - low);
    let (mut fa, mut fb) = (f(a.exp()), f(b.exp()));
    for _ in 0..60 {
        if fa < fb {
            high = b;
            b = a;
            fb = fa;
            a = high - ratio * (high - low);
            fa = f(a.exp());
        } else {
            low = a;
            a = b;
            fa = fb;
            b = low + ratio * (high - low);
            fb = f(b.exp());
        }
    }
    fa.min(fb)
}

#[cfg(test)]
/// The score that an innocent recipient reaches with probability at most `epsilon /
/// recipients`: the probability that any of `recipients` innocent ones does is at most `epsilon`.
pub(crate) fn threshold(ps: &[f64], recipients: usize, epsilon: f64) -> f64 {
    if ps.is_empty() {
        return f64::INFINITY;
    }
    let c = (recipients.max(1) as f64 / epsilon).ln();
    minimise(|lambda| (cumulant(ps, lambda) + c) / lambda)
}

/// Bound on the probability that an innocent recipient scores at least `score`.
pub(crate) fn tail_bound(ps: &[f64], score: f64) -> f64 {
    if ps.is_empty() || score <= 0.0 {
        return 1.0;
    }
    minimise(|lambda| cumulant(ps, lambda) - lambda * score).exp().min(1.0)
}

/// Share of `epsilon` spent on the partner test; the rest goes to the symmetric score.
pub(crate) const PARTNER_SHARE: f64 = 0.2;
/// The partner test's chance that a point of the segment a recipient supplied was misread.
const MISREAD: f64 = 0.02;
/// The partner test's weight on "this recipient supplied the segment" where the partner did not.
const SUPPLIED: f64 = 0.9;

/// One point read, for the partner test: its probability and the segment (sentence) it lies in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadPoint {
    pub probability: f64,
    pub segment: usize,
}

/// The partner test: a likelihood ratio for "recipient `j` and its partner supplied the
/// segments of the leak". `own[i]` and each `partners[..][i]` say whether a copy has the variant
/// read at point `i` (`None`: it did not receive that text); a segment is explained when some
/// partner's copy agrees at every point read in it. With `r_i = (1 - MISREAD) / p_i` where `j`
/// agrees and `MISREAD / (1 - p_i)` where it does not, each segment's factor is
/// `(1 - w) + w · Π r_i`, `w` the chance that `j` supplied it: `SUPPLIED` where no partner
/// explains it (someone else did), and `P / (1 + P)` where one does, `P = Π p_i` (two
/// colluders supplying sentences at even odds: the partner's copy agrees with all of `j`'s
/// segment by accident with probability `P`, and always with its own).
///
/// For an innocent `j`, given the leak and the partners' copies (chosen without looking at
/// `j`'s), `j`'s variants are independent draws from the biases: each `r_i` has mean 1, and
/// every `w` is fixed by the leak and the partners' copies, so each factor has mean 1, and so has
/// their product. By Markov's inequality the ratio reaches `R` with probability at most `1 / R`,
/// whatever the colluders did.
pub(crate) fn partner_ratio(points: &[ReadPoint], own: &[Option<bool>], partners: &[&[Option<bool>]]) -> f64 {
    // The points by segment, so each segment is one run (a leak may hold thousands of points).
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&i| points[i].segment);
    let mut log_ratio = 0.0;
    for run in order.chunk_by(|&a, &b| points[a].segment == points[b].segment) {
        // Explained: some partner's copy agrees at every point read there.
        let explained = partners.iter().any(|partner| run.iter().all(|&i| partner.get(i) == Some(&Some(true))));
        let mut product = 1.0f64;
        let mut chance = 1.0f64;
        let mut any = false;
        for &i in run {
            let Some(Some(agrees)) = own.get(i) else { continue };
            any = true;
            let p = points[i].probability;
            chance *= p;
            product *= if *agrees { (1.0 - MISREAD) / p } else { MISREAD / (1.0 - p) };
        }
        if !any {
            continue;
        }
        // Where the partner explains the segment, it may still be `j`'s: with two colluders
        // each supplying a sentence at even odds, `j` supplied it with probability
        // `P / (1 + P)` given that the partner's copy agrees there, `P` the chance of agreeing
        // at all its points by accident.
        let weight = if explained { chance / (1.0 + chance) } else { SUPPLIED };
        log_ratio += ((1.0 - weight) + weight * product).ln();
    }
    log_ratio.exp()
}

/// The evidence against a recipient in nats: the larger of the symmetric score's (its Chernoff
/// tail bound `tail`, at `1 - PARTNER_SHARE` of the budget) and the partner test's (`ratio`, at
/// `PARTNER_SHARE`). An innocent recipient reaches `t` with probability at most `e^-t`:
/// `(1 - share)·e^-t` from the first and `share·e^-t` from the second.
pub(crate) fn evidence(tail: f64, ratio: f64) -> f64 {
    let symmetric = (1.0 - PARTNER_SHARE).ln() - tail.max(f64::MIN_POSITIVE).ln();
    let partner = PARTNER_SHARE.ln() + ratio.max(f64::MIN_POSITIVE).ln();
    symmetric.max(partner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn biases_are_probability_vectors_above_the_cutoff_and_deterministic() {
        let prf = Prf::new(b"key");
        let params = CodeParams::default();
        for arity in 2..6 {
            for point in 0..50 {
                let p = bias(&prf, &params, "text", point, arity);
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                assert!(p.iter().all(|&x| x >= params.cutoff / arity as f64 - 1e-12));
                assert_eq!(p, bias(&prf, &params, "text", point, arity));
            }
        }
        assert_ne!(bias(&prf, &params, "text", 0, 3), bias(&Prf::new(b"other"), &params, "text", 0, 3));
    }

    #[test]
    fn symbols_follow_the_bias() {
        let prf = Prf::new(b"key");
        let bias = [0.8, 0.2];
        let points: Vec<(usize, &[f64])> = (0..4000).map(|i| (i, &bias[..])).collect();
        let chosen = symbols(&prf, "t", "IRQ", &points);
        let zeros = chosen.iter().filter(|&&s| s == 0).count() as f64 / 4000.0;
        assert!((zeros - 0.8).abs() < 0.03, "{zeros}");
        assert_eq!(chosen, symbols(&prf, "t", "IRQ", &points));
        assert_ne!(chosen, symbols(&prf, "t", "GBR", &points));
    }

    #[test]
    fn innocent_terms_have_mean_zero_and_variance_one() {
        for p in [0.1, 0.3, 0.5, 0.9] {
            let mean = p * term(p, true) + (1.0 - p) * term(p, false);
            let square = p * term(p, true).powi(2) + (1.0 - p) * term(p, false).powi(2);
            assert!(mean.abs() < 1e-12 && (square - 1.0).abs() < 1e-12, "{p}");
        }
    }

    #[test]
    fn an_innocent_partner_ratio_has_mean_one_whatever_the_partner() {
        // Seven points in three segments; every agreement pattern of an innocent recipient,
        // weighted by its probability, for several partners: the expectation is exactly 1.
        let points: Vec<ReadPoint> = [(0.5, 0), (0.2, 0), (0.7, 1), (0.35, 1), (0.1, 1), (0.6, 2), (0.45, 4)]
            .iter()
            .map(|&(probability, segment)| ReadPoint { probability, segment })
            .collect();
        let partners: [Vec<Option<bool>>; 3] = [
            vec![Some(true); 7],
            vec![Some(false), Some(true), Some(true), Some(true), Some(true), Some(false), Some(true)],
            vec![None, None, Some(false), Some(true), Some(true), Some(true), Some(false)],
        ];
        for partner in &partners {
            let mut mean = 0.0;
            for pattern in 0u32..1 << points.len() {
                let own: Vec<Option<bool>> = (0..points.len()).map(|i| Some(pattern >> i & 1 == 1)).collect();
                let chance: f64 = points
                    .iter()
                    .zip(&own)
                    .map(|(p, a)| if *a == Some(true) { p.probability } else { 1.0 - p.probability })
                    .product();
                mean += chance * partner_ratio(&points, &own, &[partner]);
            }
            assert!((mean - 1.0).abs() < 1e-9, "{partner:?}: {mean}");
        }
        // A recipient that supplied the sentences its partner does not explain scores high; where
        // the partner explains everything, agreeing with it is weak evidence, and disagreeing
        // clears.
        let own = vec![Some(true); 7];
        assert!(partner_ratio(&points, &own, &[&partners[1]]) > 10.0);
        let explained = partner_ratio(&points, &own, &[&partners[0]]);
        assert!(explained > 1.0 && explained < 2f64.powi(4), "{explained}");
        assert!(partner_ratio(&points, &[Some(false); 7], &[&partners[0]]) < 1.0);
    }

    #[test]
    fn an_innocent_partner_ratio_has_mean_one_where_its_partner_explains_segments_it_partly_received() {
        // Segment 0 is explained by the partner and read at three points, one of them in a text
        // the recipient did not receive; segment 1 is explained at its only point; segment 2 is
        // not. Exactly 1 over every agreement pattern at the points the recipient received.
        let points: Vec<ReadPoint> = [(0.3, 0), (0.6, 0), (0.25, 0), (0.8, 1), (0.4, 2), (0.55, 2)]
            .iter()
            .map(|&(probability, segment)| ReadPoint { probability, segment })
            .collect();
        let partner = vec![Some(true), Some(true), Some(true), Some(true), Some(false), Some(true)];
        let received = [true, false, true, true, true, true];
        let mut mean = 0.0;
        for pattern in 0u32..1 << points.len() {
            if (0..points.len()).any(|i| !received[i] && pattern >> i & 1 == 1) {
                continue;
            }
            let own: Vec<Option<bool>> =
                (0..points.len()).map(|i| received[i].then_some(pattern >> i & 1 == 1)).collect();
            let chance: f64 = points
                .iter()
                .zip(&own)
                .map(|(p, a)| match a {
                    Some(true) => p.probability,
                    Some(false) => 1.0 - p.probability,
                    None => 1.0,
                })
                .product();
            mean += chance * partner_ratio(&points, &own, &[&partner]);
        }
        assert!((mean - 1.0).abs() < 1e-9, "{mean}");
    }

    #[test]
    fn the_partner_ratio_is_the_product_over_segments() {
        // Against a direct reading of the definition, on scattered segments and missing copies.
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _ in 0..200 {
            let m = 1 + next(30) as usize;
            let points: Vec<ReadPoint> = (0..m)
                .map(|_| ReadPoint { probability: 0.05 + next(90) as f64 / 100.0, segment: next(8) as usize })
                .collect();
            let mut copy = || -> Vec<Option<bool>> {
                (0..m)
                    .map(|_| match next(5) {
                        0 => None,
                        1 | 2 => Some(true),
                        _ => Some(false),
                    })
                    .collect()
            };
            let (own, first, second) = (copy(), copy(), copy());
            let partners: [&[Option<bool>]; 2] = [&first, &second];
            let mut expected = 1.0;
            for segment in 0..8 {
                let inside: Vec<usize> = (0..m).filter(|&i| points[i].segment == segment).collect();
                let explained = partners.iter().any(|p| inside.iter().all(|&i| p[i] == Some(true)));
                let read: Vec<(f64, bool)> =
                    inside.iter().filter_map(|&i| own[i].map(|a| (points[i].probability, a))).collect();
                if inside.is_empty() || read.is_empty() {
                    continue;
                }
                let product: f64 =
                    read.iter().map(|&(p, a)| if a { (1.0 - MISREAD) / p } else { MISREAD / (1.0 - p) }).product();
                let chance: f64 = read.iter().map(|&(p, _)| p).product();
                let w = if explained { chance / (1.0 + chance) } else { SUPPLIED };
                expected *= (1.0 - w) + w * product;
            }
            let found = partner_ratio(&points, &own, &partners);
            assert!((found / expected - 1.0).abs() < 1e-9, "{found} against {expected}");
        }
    }

    #[test]
    fn evidence_spends_epsilon_between_the_two_tests() {
        // A tail bound of e^-20 is ln(1 - share) + 20 nats; a ratio of e^20 is ln(share) + 20.
        let t = 20.0f64;
        assert!((evidence((-t).exp(), 1.0) - ((1.0 - PARTNER_SHARE).ln() + t)).abs() < 1e-9);
        assert!((evidence(1.0, t.exp()) - (PARTNER_SHARE.ln() + t)).abs() < 1e-9);
        assert!(evidence(1.0, 1.0) < 0.0);
    }

    #[test]
    fn the_threshold_bounds_an_exact_tail() {
        // 20 fair binary points: an innocent agrees at k of them with probability C(20,k)/2^20
        // and scores 2k - 20. The exact tail at the threshold must be at most epsilon.
        let ps = vec![0.5; 20];
        let z = threshold(&ps, 1, 1e-3);
        let choose = |n: u64, k: u64| (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
        let tail: f64 =
            (0..=20u64).filter(|&k| 2.0 * k as f64 - 20.0 >= z).map(|k| choose(20, k) / 2f64.powi(20)).sum();
        assert!(tail <= 1e-3, "tail {tail} at threshold {z}");
        assert!(z < 20.0, "twenty agreements out of twenty must pass: {z}");
        assert!(tail_bound(&ps, z) <= 1e-3 * 1.0001);
        assert_eq!(threshold(&[], 5, 1e-6), f64::INFINITY);
        assert!(threshold(&ps, 100, 1e-3) > z, "more recipients, a higher threshold");
    }
}
