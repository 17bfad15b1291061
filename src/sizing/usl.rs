//! The Universal Scalability Law, X(N) = lambda N / (1 + sigma (N - 1) + kappa N (N - 1)),
//! fitted to measured capacities by weighted nonlinear least squares (Levenberg-Marquardt),
//! each point weighted by its own capacity interval. Sigma and kappa are costs, never
//! negative: a fit that wants one below zero is refitted with it held at 0, as the law's
//! own reading (no contention, or no coherency cost) rather than a gain from size.

use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::{storage::Owned, DMatrix, DVector, Dyn};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// One measured size: N, its capacity, and that capacity's standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub n: f64,
    pub x: f64,
    pub sd: f64,
}

/// A coefficient with its 95% interval (None: too few points for one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coef {
    pub value: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// The fitted law.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    pub lambda: Coef,
    pub sigma: Coef,
    pub kappa: Coef,
    /// Where throughput peaks, sqrt((1 - sigma) / kappa) (None: kappa 0, no peak).
    pub peak_n: Option<f64>,
    pub peak_x: Option<f64>,
    /// Weighted residual sum of squares over its degrees of freedom: about 1 when the
    /// law fits within the points' own uncertainty.
    pub chi2_per_dof: Option<f64>,
    /// Degrees of freedom left after the fit (points - free coefficients).
    pub dof: usize,
    /// Coefficients held at 0 because the fit wanted them negative.
    pub held_at_zero: Vec<String>,
    /// The covariance of (lambda, sigma, kappa), row by row (zeros for a held one).
    pub covariance: Vec<Vec<f64>>,
    /// The points' median relative standard error: a new measurement's own noise.
    pub point_noise: f64,
}

/// The law at `n` with coefficients `p` = (lambda, sigma, kappa).
pub fn law(p: [f64; 3], n: f64) -> f64 {
    p[0] * n / (1.0 + p[1] * (n - 1.0) + p[2] * n * (n - 1.0))
}

/// d law / d (lambda, sigma, kappa) at `n`.
fn gradient(p: [f64; 3], n: f64) -> [f64; 3] {
    let d = 1.0 + p[1] * (n - 1.0) + p[2] * n * (n - 1.0);
    [
        n / d,
        -p[0] * n * (n - 1.0) / (d * d),
        -p[0] * n * n * (n - 1.0) / (d * d),
    ]
}

/// The least-squares problem over the free coefficients.
struct Problem<'a> {
    points: &'a [Point],
    free: [bool; 3],
    p: [f64; 3],
}

impl Problem<'_> {
    fn free_idx(&self) -> Vec<usize> {
        (0..3).filter(|&i| self.free[i]).collect()
    }
}

impl LeastSquaresProblem<f64, Dyn, Dyn> for Problem<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;

    fn set_params(&mut self, x: &DVector<f64>) {
        for (k, i) in self.free_idx().into_iter().enumerate() {
            self.p[i] = x[k];
        }
    }

    fn params(&self) -> DVector<f64> {
        DVector::from_iterator(
            self.free.iter().filter(|f| **f).count(),
            self.free_idx().into_iter().map(|i| self.p[i]),
        )
    }

    fn residuals(&self) -> Option<DVector<f64>> {
        Some(DVector::from_iterator(
            self.points.len(),
            self.points.iter().map(|q| (law(self.p, q.n) - q.x) / q.sd),
        ))
    }

    fn jacobian(&self) -> Option<DMatrix<f64>> {
        let idx = self.free_idx();
        let mut j = DMatrix::zeros(self.points.len(), idx.len());
        for (r, q) in self.points.iter().enumerate() {
            let g = gradient(self.p, q.n);
            for (c, &i) in idx.iter().enumerate() {
                j[(r, c)] = g[i] / q.sd;
            }
        }
        Some(j)
    }
}

/// A start from the law's linear form: N / X = (1 - sigma + (sigma - kappa) N + kappa N^2)
/// / lambda, a weighted quadratic regression of N / X on N.
fn start(points: &[Point]) -> [f64; 3] {
    let fallback = {
        let first = points.iter().min_by(|a, b| a.n.total_cmp(&b.n));
        [first.map_or(1.0, |q| q.x / q.n), 0.01, 0.0001]
    };
    if points.len() < 3 {
        return fallback;
    }
    let a = DMatrix::from_fn(points.len(), 3, |r, c| {
        let q = points[r];
        let w = q.x * q.x / (q.n * q.sd); // 1 / sd of N / X
        q.n.powi(c as i32) * w
    });
    let y = DVector::from_iterator(
        points.len(),
        points.iter().map(|q| q.n / q.x * (q.x * q.x / (q.n * q.sd))),
    );
    let Ok(sol) = a.svd(true, true).solve(&y, 1e-12) else {
        return fallback;
    };
    let (c0, c1, c2) = (sol[0], sol[1], sol[2]);
    let sum = c0 + c1 + c2;
    if sum.is_nan() || sum <= 0.0 {
        return fallback;
    }
    let lambda = 1.0 / sum;
    [lambda, ((c1 + c2) * lambda).max(0.0), (c2 * lambda).max(0.0)]
}

/// Fits the law; `None` with fewer than two points or where the solver fails.
pub fn fit(points: &[Point]) -> Option<Fit> {
    if points.len() < 2 {
        return None;
    }
    let mut free = [true, true, points.len() >= 3];
    let mut p = start(points);
    if !free[2] {
        p[2] = 0.0;
    }
    let mut held = Vec::new();
    let names = ["lambda", "sigma", "kappa"];
    let solved = loop {
        let (out, report) = LevenbergMarquardt::new().minimize(Problem { points, free, p });
        if !report.termination.was_successful() && !out.p.iter().all(|v| v.is_finite()) {
            return None;
        }
        // A cost below zero: hold the most negative one at 0 and fit again.
        let negative = (1..3)
            .filter(|&i| free[i] && out.p[i] < 0.0)
            .min_by(|&a, &b| out.p[a].total_cmp(&out.p[b]));
        match negative {
            Some(i) => {
                free[i] = false;
                p = out.p;
                p[i] = 0.0;
                held.push(names[i].to_string());
            }
            None => break out,
        }
    };
    let p = solved.p;
    let free_n = free.iter().filter(|f| **f).count();
    let dof = points.len().saturating_sub(free_n);
    let chi2: f64 = points.iter().map(|q| ((law(p, q.n) - q.x) / q.sd).powi(2)).sum();
    let chi2_per_dof = (dof > 0).then(|| chi2 / dof as f64);
    // The covariance from the weighted Jacobian, inflated by the lack of fit where the
    // points scatter more than their own intervals say.
    let j = solved.jacobian()?;
    let inv = (j.transpose() * &j).try_inverse()?;
    let scale = chi2_per_dof.unwrap_or(1.0).max(1.0);
    let idx = solved.free_idx();
    let mut cov = vec![vec![0.0; 3]; 3];
    for (a, &i) in idx.iter().enumerate() {
        for (b, &k) in idx.iter().enumerate() {
            cov[i][k] = inv[(a, b)] * scale;
        }
    }
    let t = t95(dof);
    let coef = |i: usize| Coef {
        value: p[i],
        lo: t.filter(|_| free[i]).map(|t| p[i] - t * cov[i][i].sqrt()),
        hi: t.filter(|_| free[i]).map(|t| p[i] + t * cov[i][i].sqrt()),
    };
    let peak_n = (p[2] > 0.0 && p[1] < 1.0).then(|| ((1.0 - p[1]) / p[2]).sqrt());
    let mut noise: Vec<f64> = points.iter().map(|q| q.sd / q.x).collect();
    noise.sort_by(f64::total_cmp);
    Some(Fit {
        lambda: coef(0),
        sigma: coef(1),
        kappa: coef(2),
        peak_n,
        peak_x: peak_n.map(|n| law(p, n)),
        chi2_per_dof,
        dof,
        held_at_zero: held,
        covariance: cov,
        point_noise: noise[noise.len() / 2],
    })
}

/// Student's t at 97.5% with `dof` degrees of freedom (None at 0).
fn t95(dof: usize) -> Option<f64> {
    StudentsT::new(0.0, 1.0, dof as f64)
        .ok()
        .map(|t| t.inverse_cdf(0.975))
        .filter(|_| dof > 0)
}

/// A prediction at one size, with its 95% prediction interval (the fit's uncertainty and
/// a new measurement's own noise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub n: f64,
    pub x: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl Fit {
    pub fn coefficients(&self) -> [f64; 3] {
        [self.lambda.value, self.sigma.value, self.kappa.value]
    }

    pub fn predict(&self, n: f64) -> Prediction {
        let p = self.coefficients();
        let x = law(p, n);
        let g = gradient(p, n);
        let mut var = 0.0;
        for (i, gi) in g.iter().enumerate() {
            for (k, gk) in g.iter().enumerate() {
                var += gi * self.covariance[i][k] * gk;
            }
        }
        var += (self.point_noise * x).powi(2);
        let half = t95(self.dof).map(|t| t * var.max(0.0).sqrt());
        Prediction {
            n,
            x,
            lo: half.map(|h| (x - h).max(0.0)),
            hi: half.map(|h| x + h),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(p: [f64; 3], sizes: &[f64], noise: &[f64]) -> Vec<Point> {
        sizes
            .iter()
            .zip(noise.iter().cycle())
            .map(|(&n, e)| {
                let x = law(p, n) * (1.0 + e);
                Point { n, x, sd: 0.02 * x }
            })
            .collect()
    }

    #[test]
    fn recovers_a_known_law_and_its_peak() {
        let truth = [500.0, 0.05, 0.001];
        let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
        let fit = fit(&points(truth, &sizes, &[0.01, -0.01, 0.005, -0.005, 0.01, -0.01])).expect("fit");
        assert!((fit.sigma.value - 0.05).abs() < 0.005, "{fit:?}");
        assert!((fit.kappa.value - 0.001).abs() < 0.0001, "{fit:?}");
        let peak = fit.peak_n.expect("peak");
        assert!((peak - (0.95f64 / 0.001).sqrt()).abs() < 2.0, "{peak}");
        let (lo, hi) = (fit.sigma.lo.expect("lo"), fit.sigma.hi.expect("hi"));
        assert!(lo < 0.05 && hi > 0.05, "{lo} {hi}");
        let at24 = fit.predict(24.0);
        assert!(at24.lo.expect("lo") < law(truth, 24.0) && at24.hi.expect("hi") > law(truth, 24.0));
    }

    #[test]
    fn linear_scaling_holds_the_costs_at_zero() {
        let fit = fit(&points(
            [1000.0, 0.0, 0.0],
            &[1.0, 2.0, 4.0, 8.0],
            &[0.01, -0.01, 0.01, -0.01],
        ))
        .expect("fit");
        assert!(fit.sigma.value >= 0.0 && fit.kappa.value >= 0.0, "{fit:?}");
        assert!(!fit.held_at_zero.is_empty() || fit.kappa.value < 1e-4, "{fit:?}");
    }
}
