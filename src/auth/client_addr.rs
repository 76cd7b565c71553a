//! The client address of a request, and the per-address login limit (docs/API.md §2).
//!
//! The peer of the TCP connection is the client, unless it is one of `TRUSTED_PROXIES`:
//! then `X-Forwarded-For` is read from the right, skipping trusted proxies, and the
//! first address that is not one is the client. An untrusted peer's `X-Forwarded-For`
//! is ignored, so a client cannot pick its own address.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::error::AppError;

/// The address a request comes from; `None` when it was not served over TCP.
pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())?;
    Some(resolve(
        peer,
        parts.headers.get_all("x-forwarded-for"),
        trusted,
    ))
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn resolve<'a>(
    peer: IpAddr,
    forwarded: impl IntoIterator<Item = &'a axum::http::HeaderValue>,
    trusted: &[IpNet],
) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return canonical(peer);
    }
    let hops: Vec<IpAddr> = forwarded
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|h| h.parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        // A malformed header names nobody: the proxy itself is the client.
        .unwrap_or_default();
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(*ip, trusted))
        .map_or(canonical(peer), canonical)
}

/// Logins per client address and minute; off at 0.
pub struct LoginLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("enabled", &self.limiter.is_some())
            .finish()
    }
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        LoginLimiter {
            limiter: NonZeroU32::new(per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n).allow_burst(n))),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one login from `ip`, or `429` with the seconds to wait.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), AppError> {
        let (Some(limiter), Some(ip)) = (&self.limiter, ip) else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            AppError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })?;
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let xff = [HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.0.0.2")];
        let trusted = nets(&["10.0.0.0/8"]);
        // Untrusted peer: its header is ignored.
        assert_eq!(resolve(ip("5.5.5.5"), xff.iter(), &trusted), ip("5.5.5.5"));
        // Trusted peer: the rightmost untrusted hop.
        assert_eq!(resolve(ip("10.0.0.1"), xff.iter(), &trusted), ip("1.2.3.4"));
        // No header, or a malformed one: the proxy.
        assert_eq!(resolve(ip("10.0.0.1"), [].iter(), &trusted), ip("10.0.0.1"));
        let bad = [HeaderValue::from_static("nonsense")];
        assert_eq!(
            resolve(ip("10.0.0.1"), bad.iter(), &trusted),
            ip("10.0.0.1")
        );
        // Mapped IPv6 peers match IPv4 CIDRs.
        assert_eq!(
            resolve(ip("::ffff:10.0.0.1"), xff.iter(), &trusted),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn the_limit_is_per_address_and_off_at_zero() {
        let off = LoginLimiter::new(0);
        for _ in 0..100 {
            off.check(Some(ip("1.1.1.1"))).unwrap();
        }
        let on = LoginLimiter::new(3);
        for _ in 0..3 {
            on.check(Some(ip("1.1.1.1"))).unwrap();
        }
        assert!(matches!(
            on.check(Some(ip("1.1.1.1"))),
            Err(AppError::RateLimited { retry_after_secs }) if retry_after_secs >= 1
        ));
        on.check(Some(ip("2.2.2.2"))).unwrap();
        on.check(None).unwrap();
    }
}
