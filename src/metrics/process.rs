//! The standard `process_*` metrics, read from `/proc` at scrape time (Linux only;
//! elsewhere they are left out rather than reported as zero).

use std::fmt::Write as _;

/// CPU seconds, resident bytes, open descriptors and start time (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub open_fds: u64,
    pub start_time_seconds: f64,
}

/// Reads this process's figures, or `None` without a Linux `/proc`.
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok())?;
    // SAFETY: sysconf only reads a configuration value.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    parse_stat(
        &stat,
        boot_time,
        ticks.max(1) as f64,
        page.max(1) as u64,
        open_fds,
    )
}

/// Parses `/proc/self/stat`. The command name (field 2) is parenthesised and may hold
/// spaces, so fields are counted from its closing parenthesis.
fn parse_stat(
    stat: &str,
    boot_time: u64,
    ticks_per_sec: f64,
    page_size: u64,
    open_fds: u64,
) -> Option<ProcessStats> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": field 3 (state) is index 0, so field n is index n - 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let (utime, stime) = (field(14)?, field(15)?);
    let start_ticks = field(22)?;
    let rss_pages = field(24)?;
    Some(ProcessStats {
        cpu_seconds: (utime + stime) as f64 / ticks_per_sec,
        resident_bytes: rss_pages * page_size,
        open_fds,
        start_time_seconds: boot_time as f64 + start_ticks as f64 / ticks_per_sec,
    })
}

/// Writes the four families, when `/proc` could be read.
pub fn render(out: &mut String) {
    let Some(p) = read() else {
        return;
    };
    let _ = write!(
        out,
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
         # TYPE process_cpu_seconds_total counter\n\
         process_cpu_seconds_total {}\n\
         # HELP process_resident_memory_bytes Resident memory size in bytes.\n\
         # TYPE process_resident_memory_bytes gauge\n\
         process_resident_memory_bytes {}\n\
         # HELP process_open_fds Number of open file descriptors.\n\
         # TYPE process_open_fds gauge\n\
         process_open_fds {}\n\
         # HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
         # TYPE process_start_time_seconds gauge\n\
         process_start_time_seconds {}\n",
        p.cpu_seconds, p.resident_bytes, p.open_fds, p.start_time_seconds
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_whose_name_has_spaces_and_parentheses() {
        // Fields 14/15 (utime/stime) = 250/50 ticks, 22 (starttime) = 1000, 24 (rss) = 10.
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 1000 9999 10 rest";
        let p = parse_stat(stat, 1_700_000_000, 100.0, 4096, 7).expect("parsed");
        assert_eq!(
            p,
            ProcessStats {
                cpu_seconds: 3.0,
                resident_bytes: 40_960,
                open_fds: 7,
                start_time_seconds: 1_700_000_010.0,
            }
        );
    }

    #[test]
    fn reads_this_process() {
        let p = read().expect("/proc");
        assert!(p.resident_bytes > 1_000_000, "{p:?}");
        assert!(p.open_fds >= 3, "{p:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        assert!(p.start_time_seconds <= now + 1.0 && p.start_time_seconds > now - 86_400.0);
    }
}
