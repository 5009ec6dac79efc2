//! Capacity decisions, as pure functions of what was observed (so that they are
//! unit-tested without AWS): how many instances the queued jobs need, which idle
//! instances to give back, and when spot capacity is missing.
//!
//! The model: one instance runs one job and then leaves the group, lowering the
//! desired capacity itself (runner-exit.sh). So the group needs one instance per
//! busy runner plus one per queued job of ours, never more than `MaxSize`, never
//! less than `MinSize` (the optional warm floor).

/// What the reconciler saw.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// Runners of this stack that GitHub shows busy with a job.
    pub busy: u32,
    /// Queued jobs of the repository whose labels this stack serves.
    pub queued: u32,
    /// Instances older than the idle bound that run no job, oldest first.
    pub idle_too_long: Vec<String>,
}

/// What to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Raise the desired capacity to this.
    pub raise_to: Option<u32>,
    /// Terminate these, each lowering the desired capacity by one.
    pub release: Vec<String>,
}

/// The capacity the jobs need: busy + queued, clamped to `[min, max]`.
pub fn needed(o: &Observed) -> u32 {
    o.busy
        .saturating_add(o.queued)
        .clamp(o.min, o.max.max(o.min))
}

/// Raise when short (webhooks get lost); release idle instances only beyond what
/// the queued jobs still need, and never below the warm floor.
pub fn plan(o: &Observed) -> Plan {
    let need = needed(o);
    if o.desired < need {
        return Plan {
            raise_to: Some(need),
            release: Vec::new(),
        };
    }
    let excess = o.desired - need;
    let above_floor = o.desired.saturating_sub(o.min);
    let n = excess.min(above_floor) as usize;
    Plan {
        raise_to: None,
        release: o.idle_too_long.iter().take(n).cloned().collect(),
    }
}

/// The webhook's step: one more instance for a newly queued job, up to `max`.
/// `None` when the group is at its maximum (the job waits for a runner to finish).
pub fn one_more(desired: u32, max: u32) -> Option<u32> {
    (desired < max).then_some(desired + 1)
}

/// Whether an `EC2 Instance Launch Unsuccessful` status message says that spot
/// capacity (or the spot quota) ran out, as opposed to a configuration error that
/// on-demand instances would hit too.
pub fn spot_capacity_unavailable(status_message: &str) -> bool {
    const SIGNS: &[&str] = &[
        "InsufficientInstanceCapacity",
        "insufficient capacity",
        "UnfulfillableCapacity",
        "MaxSpotInstanceCountExceeded",
        "SpotMaxPriceTooLow",
        "no Spot capacity",
        "capacity-not-available",
        "InsufficientCapacity",
    ];
    let m = status_message.to_ascii_lowercase();
    SIGNS.iter().any(|s| m.contains(&s.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(min: u32, max: u32, desired: u32, busy: u32, queued: u32, idle: &[&str]) -> Observed {
        Observed {
            min,
            max,
            desired,
            busy,
            queued,
            idle_too_long: idle.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_lost_webhook_is_made_up_for() {
        assert_eq!(plan(&obs(0, 6, 0, 0, 1, &[])).raise_to, Some(1));
        assert_eq!(plan(&obs(0, 6, 2, 2, 3, &[])).raise_to, Some(5));
    }

    #[test]
    fn never_above_max_never_below_min() {
        // the monthly batch: 50 queued, MaxSize 6
        assert_eq!(plan(&obs(0, 6, 0, 0, 50, &[])).raise_to, Some(6));
        assert_eq!(plan(&obs(0, 6, 6, 6, 44, &[])), Plan::default());
        // warm floor of 1 and nothing to do: keep it
        assert_eq!(plan(&obs(1, 6, 1, 0, 0, &["i-1"])), Plan::default());
        assert_eq!(plan(&obs(1, 6, 0, 0, 0, &[])).raise_to, Some(1));
        // misconfigured max < min: the floor wins, nothing panics
        assert_eq!(needed(&obs(3, 1, 0, 0, 0, &[])), 3);
    }

    #[test]
    fn idle_instances_are_released_only_beyond_the_need() {
        let p = plan(&obs(0, 6, 3, 1, 0, &["i-old", "i-older"]));
        assert_eq!(p.release, ["i-old", "i-older"]);
        // one queued job still wants one of the idle ones
        let p = plan(&obs(0, 6, 3, 1, 1, &["i-old", "i-older"]));
        assert_eq!(p.release, ["i-old"]);
        // the floor keeps one
        let p = plan(&obs(1, 6, 2, 0, 0, &["i-a", "i-b"]));
        assert_eq!(p.release, ["i-a"]);
        // nothing idle long enough: nothing released
        assert_eq!(plan(&obs(0, 6, 4, 0, 0, &[])), Plan::default());
    }

    #[test]
    fn the_webhook_adds_one_up_to_max() {
        assert_eq!(one_more(0, 6), Some(1));
        assert_eq!(one_more(5, 6), Some(6));
        assert_eq!(one_more(6, 6), None);
        assert_eq!(one_more(7, 6), None);
    }

    #[test]
    fn spot_shortage_is_told_from_configuration_errors() {
        for m in [
            "Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.",
            "Could not launch Spot Instances. UnfulfillableCapacity - Unable to fulfill capacity due to your request configuration.",
            "Could not launch Spot Instances. MaxSpotInstanceCountExceeded - Max spot instance count exceeded.",
            "We currently do not have sufficient m7i.large capacity (InsufficientCapacity).",
        ] {
            assert!(spot_capacity_unavailable(m), "{m}");
        }
        for m in [
            "The image id '[ami-123]' does not exist. Launching EC2 instance failed.",
            "You are not authorized to perform this operation.",
            "",
        ] {
            assert!(!spot_capacity_unavailable(m), "{m}");
        }
    }
}
