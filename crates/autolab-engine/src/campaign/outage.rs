//! The LLM path's budgets and outages: a spent `max_usd` ends the campaign once running
//! experiments finish; an unreachable or overloaded provider is waited out with growing pauses
//! (candidates whose code could not be written keep their number and wait), and only an outage
//! longer than `max_outage` pauses the campaign.

use std::time::{Duration, Instant};

/// The LLM has not been reachable since `since`; the next call may go out at `retry_at`.
#[derive(Debug, Clone, Copy)]
pub struct Outage {
    pub since: Instant,
    pub retry_at: Instant,
    pub failures: u32,
}

/// The longest wait between tries while the LLM cannot be reached.
const MAX_OUTAGE_WAIT: Duration = Duration::from_secs(600);

/// What one more failed call means for an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageStep {
    /// A call that was already out when the LLM went away: not another failure.
    Counted,
    /// Wait this long before the next call.
    Wait(Duration),
    /// Out for this long, past `max_outage`: pause the campaign.
    Pause(Duration),
}

impl Outage {
    pub fn new(now: Instant) -> Outage {
        Outage {
            since: now,
            retry_at: now,
            failures: 0,
        }
    }

    /// A call failed at `now`: the wait doubles from `retry` (at most 10 minutes), and once
    /// the LLM has been out for `max_outage` the campaign pauses.
    pub fn failed(&mut self, now: Instant, retry: Duration, max_outage: Duration) -> OutageStep {
        if self.failures > 0 && now < self.retry_at {
            return OutageStep::Counted;
        }
        self.failures += 1;
        let wait = retry
            .saturating_mul(1 << (self.failures - 1).min(16))
            .min(MAX_OUTAGE_WAIT);
        self.retry_at = now + wait;
        let out_for = now.duration_since(self.since);
        if out_for >= max_outage {
            OutageStep::Pause(out_for)
        } else {
            OutageStep::Wait(wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_ten_minutes_and_a_long_outage_pauses() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut o = Outage::new(t0);
        let max = Duration::from_secs(3600);
        assert_eq!(o.failed(t0, ms(100), max), OutageStep::Wait(ms(100)));
        // A call that was already out fails before the wait is over: counted once.
        assert_eq!(o.failed(t0 + ms(50), ms(100), max), OutageStep::Counted);
        assert_eq!(
            o.failed(t0 + ms(100), ms(100), max),
            OutageStep::Wait(ms(200))
        );
        assert_eq!(
            o.failed(t0 + ms(300), ms(100), max),
            OutageStep::Wait(ms(400))
        );
        assert_eq!(o.failures, 3);
        let mut long = Outage::new(t0);
        long.failures = 20;
        long.retry_at = t0;
        assert_eq!(
            long.failed(t0, Duration::from_secs(30), max),
            OutageStep::Wait(MAX_OUTAGE_WAIT)
        );
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(
            Outage::new(t0).failed(later, ms(100), max),
            OutageStep::Pause(Duration::from_secs(3600))
        );
    }
}
