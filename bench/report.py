#!/usr/bin/env python3
"""The benchmark's numbers: from the raw runs bench/run.sh records (one JSON line per
wrk run) to the table on stdout and the JSON file.

    report.py line RAW                  one line about the last run (progress, on stderr)
    report.py side-load RAW OUT S0 S1   adds the side load's counts to the last run
    report.py annotate RAW JSON         adds fields to the last run (callgrind's counts)
    report.py final RAW --out FILE ...  the table and the JSON results

Per run: req/s = requests / wrk's duration; p50/p99 from wrk's latency distribution;
worker CPU per request = (utime+stime of the nginx worker after - before) / requests,
from /proc/<pid>/stat (clock ticks; /proc/<pid>/schedstat's ns is kept in the JSON as
well); RSS = VmRSS of the worker before and after. A run is INVALID when any response
was not the upstream's 200 "ok" or wrk saw a socket error. Per setup: the median and
the spread (min-max) over the rounds; the ratio to A and the added CPU per request
against A are taken round by round (rounds alternate setups) and their median shown.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

# The issues' targets (issue 5; issue 9 for the server-side sessions E_*), medians on the
# 2-core machine.
TARGETS = {
    'B': {'ratio': 0.95, 'added_us': 3.0},
    'C': {'ratio': 0.95, 'added_us': 3.0},
    'D-RS256': {'ratio': 0.60},
    'E_zone': {'ratio': 0.90, 'added_us': 5.0},
    'E_redis': {'ratio': 0.90, 'added_us': 5.0},
}
ORDER = ['A', 'A+cookie', 'A+bearer', 'B', 'C', 'D-RS256', 'D-ES256', 'E_zone', 'E_redis']


def load(raw):
    with open(raw) as f:
        return [json.loads(line) for line in f if line.strip()]


def metrics(run):
    w = run['wrk']
    n = max(w['requests'], 1)
    secs = w['duration_us'] / 1e6
    socket_errors = sum(w['errors'][k] for k in ('connect', 'read', 'write', 'timeout'))
    problems = []
    if w['non_ok']:
        problems.append(f"{w['non_ok']} of {w['requests']} responses not 200 \"ok\" (first: {w['first_non_ok']})")
    if socket_errors:
        problems.append(f'{socket_errors} socket errors {w["errors"]}')
    return {
        'requests': w['requests'],
        'rps': w['requests'] / secs if secs else 0.0,
        'p50_ms': w['latency_us']['p50'] / 1000,
        'p99_ms': w['latency_us']['p99'] / 1000,
        'cpu_us_per_req': run['cpu_ticks'] / run['clk_tck'] * 1e6 / n,
        'sched_us_per_req': run['sched_ns'] / 1000 / n,
        # Share of the run the worker was on a CPU: near 100 % the worker is the bottleneck;
        # well below, the load generator or other load on the machine limited req/s.
        'worker_busy_pct': 100 * run['cpu_ticks'] / run['clk_tck'] / secs if secs else 0.0,
        'rss_kb_before': run['rss_kb_before'],
        'rss_kb_after': run['rss_kb_after'],
        'valid': not problems,
        'problems': problems,
        # E_redis: commands Redis processed per request (0 when the worker's cache answers).
        **({'redis_commands_per_req': run['redis_commands'] / n} if 'redis_commands' in run else {}),
    }


def spread(values):
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values)}


def cmd_line(a):
    run = load(a.raw)[-1]
    m = metrics(run)
    print(f"bench:   {run['kind']:<6} {run['label']:<9} {run['setup']:<8} {m['rps']:9.0f} req/s  "
          f"p50 {m['p50_ms']:.2f} ms  p99 {m['p99_ms']:.2f} ms  cpu {m['cpu_us_per_req']:6.1f} us/req  "
          f"rss {m['rss_kb_before']}->{m['rss_kb_after']} kB"
          + (f"  redis {run['redis_commands']} commands" if 'redis_commands' in run else '')
          + ('' if m['valid'] else '  INVALID: '
                                                                  + '; '.join(m['problems'])),
          file=sys.stderr)


def cmd_side_load(a):
    runs = load(a.raw)
    text = open(a.out).read()
    m = re.search(r'ok=(\d+) failed=(\d+)', text)
    token = [json.load(open(f))['requests'].get('/token', 0) for f in (a.stats0, a.stats1)]
    runs[-1]['side_load'] = {
        'logins_ok': int(m.group(1)) if m else 0,
        'logins_failed': int(m.group(2)) if m else 0,
        'op_token_requests_during_run': token[1] - token[0],
        'output': text.strip()[:300],
    }
    with open(a.raw, 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in runs)
    print(f"bench:   side load: {runs[-1]['side_load']['output']}; "
          f"{token[1] - token[0]} token requests reached the OP during the run", file=sys.stderr)


def cmd_annotate(a):
    runs = load(a.raw)
    runs[-1].update(json.loads(a.fields))
    with open(a.raw, 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in runs)
    r = runs[-1]
    if 'instructions' in r:
        print(f"bench:   callgrind {r['setup']}: {r['instructions'] / max(r['wrk']['requests'], 1):.0f} "
              f"instructions/request", file=sys.stderr)


def summarize_callgrind(runs):
    """Instructions per request (valgrind's Ir over the requests wrk completed)."""
    out = {}
    for r in runs:
        if r['kind'] == 'callgrind' and 'instructions' in r:
            m = metrics(r)
            out[r['setup']] = {'requests': m['requests'], 'instructions': r['instructions'],
                               'instructions_per_req': r['instructions'] / max(m['requests'], 1),
                               'valid': m['valid'], 'problems': m['problems'], 'profile': r.get('profile')}
    base = out.get('A')
    for s in out.values():
        if base:
            s['added_per_req_vs_A'] = s['instructions_per_req'] - base['instructions_per_req']
    return out


def summarize_rounds(runs):
    """Per setup: the rounds, medians and spreads, ratio and added CPU against A."""
    by_setup = {}
    for r in runs:
        if r['kind'] == 'round':
            by_setup.setdefault(r['setup'], []).append((int(r['label']), metrics(r)))
    base = dict(by_setup.get('A', []))
    out = {}
    for setup, rounds in by_setup.items():
        ms = [m for _, m in rounds]
        s = {
            'rounds': [dict(m, round=i) for i, m in rounds],
            'valid': all(m['valid'] for m in ms),
            'problems': [f'round {i}: {p}' for i, m in rounds for p in m['problems']],
        }
        for k in ('rps', 'p50_ms', 'p99_ms', 'cpu_us_per_req', 'sched_us_per_req', 'worker_busy_pct',
                  'redis_commands_per_req'):
            if all(k in m for m in ms):
                s[k] = spread([m[k] for m in ms])
        s['rss_kb'] = {'before_first': ms[0]['rss_kb_before'], 'after_last': ms[-1]['rss_kb_after'],
                       'max': max(m['rss_kb_after'] for m in ms)}
        pairs = [(m, base[i]) for i, m in rounds if i in base]
        if pairs:
            s['ratio_to_A'] = spread([m['rps'] / b['rps'] for m, b in pairs])
            s['added_cpu_us_vs_A'] = spread([m['cpu_us_per_req'] - b['cpu_us_per_req'] for m, b in pairs])
            s['added_sched_us_vs_A'] = spread([m['sched_us_per_req'] - b['sched_us_per_req'] for m, b in pairs])
        t = TARGETS.get(setup)
        if t and pairs:
            met = s['ratio_to_A']['median'] >= t['ratio']
            if 'added_us' in t:
                met = met and s['added_cpu_us_vs_A']['median'] < t['added_us']
            s['target'] = dict(t, met=met)
        out[setup] = s
    return out


def summarize_slow_op(runs):
    quiet = [metrics(r) for r in runs if r['kind'] == 'slowop' and r['label'].startswith('quiet')]
    loaded = [(metrics(r), r.get('side_load') or {}) for r in runs
              if r['kind'] == 'slowop' and r['label'].startswith('loaded')]
    if not quiet or not loaded:
        return None
    ratios = [l['rps'] / q['rps'] for q, (l, _) in zip(quiet, loaded)]
    return {
        'what': 'B alone, then B while a side load keeps logging in against the OP whose token endpoint '
                'answers after 2 s (GET /__control/delay?path=/token&ms=2000)',
        'quiet_rps': spread([q['rps'] for q in quiet]),
        'loaded_rps': spread([l['rps'] for l, _ in loaded]),
        'loaded_p99_ms': spread([l['p99_ms'] for l, _ in loaded]),
        'quiet_p99_ms': spread([q['p99_ms'] for q in quiet]),
        'quiet_cpu_us_per_req': spread([q['cpu_us_per_req'] for q in quiet]),
        'loaded_cpu_us_per_req': spread([l['cpu_us_per_req'] for l, _ in loaded]),
        'ratio_loaded_to_quiet': spread(ratios),
        'logins_ok': sum(s.get('logins_ok', 0) for _, s in loaded),
        'logins_failed': sum(s.get('logins_failed', 0) for _, s in loaded),
        'op_token_requests': sum(s.get('op_token_requests_during_run', 0) for _, s in loaded),
        'valid': all(q['valid'] for q in quiet) and all(l['valid'] for l, _ in loaded),
        'problems': [p for q in quiet for p in q['problems']] + [p for l, _ in loaded for p in l['problems']],
    }


def summarize_soak(runs):
    out = {}
    for r in runs:
        if r['kind'] != 'soak':
            continue
        samples = []
        path = r.get('rss_samples_file')
        if path and os.path.exists(path):
            for line in open(path):
                parts = line.split()
                if len(parts) == 2 and parts[1].isdigit():
                    if samples and samples[-1][0] == int(parts[0]):
                        samples.pop()
                    samples.append([int(parts[0]), int(parts[1])])
        m = metrics(r)
        rss = [s[1] for s in samples] or [m['rss_kb_before'], m['rss_kb_after']]
        # Growth over the second half: what is left once caches and pools have filled.
        half = [s[1] for s in samples if s[0] >= int(r['label']) / 2] or rss
        out[r['setup']] = {
            'seconds': int(r['label']), 'rps': m['rps'], 'valid': m['valid'], 'problems': m['problems'],
            'rss_kb_start': rss[0], 'rss_kb_end': rss[-1], 'rss_kb_max': max(rss),
            'rss_kb_growth': rss[-1] - rss[0], 'rss_kb_growth_second_half': half[-1] - half[0],
            'samples_s_kb': samples,
        }
    return out


def machine(a):
    def run(*cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip()
        except OSError:
            return ''
    cpu = ''
    try:
        cpu = re.search(r'^model name\s*:\s*(.*)$', open('/proc/cpuinfo').read(), re.M).group(1)
    except (OSError, AttributeError):
        pass
    def git(*args):
        try:
            p = subprocess.run(['git', '-C', a.root, *args], capture_output=True, text=True, timeout=10)
            return p.stdout.strip() if p.returncode == 0 else None
        except OSError:
            return None
    commit = git('rev-parse', '--short', 'HEAD') or 'unknown'
    # Uncommitted changes to the module's sources: the numbers are of a build of those.
    dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'oidc-core', 'Cargo.toml', 'Cargo.lock')
    return {
        'cpus': os.cpu_count(), 'cpu_model': cpu, 'kernel': platform.release(),
        'loadavg_at_end': [round(x, 2) for x in os.getloadavg()],
        'nginx': run(a.nginx, '-v').replace('nginx version: ', ''),
        'wrk': run('wrk', '-v').splitlines()[0] if run('wrk', '-v') else '',
        'commit': commit + ('+local changes' if dirty else ''),
        'module_built': time.strftime('%Y-%m-%d %H:%M', time.localtime(os.path.getmtime(a.module))),
    }


def fmt_spread(s, f='{:.0f}'):
    return f"{f.format(s['median'])} ({f.format(s['min'])}-{f.format(s['max'])})"


def table(setups, skipped, order):
    head = ['setup', 'req/s (min-max)', 'ratio to A', 'p50 ms', 'p99 ms', 'CPU us/req', '+us vs A',
            'busy', 'RSS kB', 'status']
    rows = []
    for name in order:
        if name in skipped:
            continue
        s = setups.get(name)
        if not s:
            continue
        status = 'ok' if s['valid'] else 'INVALID'
        if 'target' in s:
            status += ', target ' + ('met' if s['target']['met'] else 'MISSED')
        rows.append([
            name, fmt_spread(s['rps']),
            fmt_spread(s['ratio_to_A'], '{:.2f}') if 'ratio_to_A' in s else '-',
            f"{s['p50_ms']['median']:.2f}", f"{s['p99_ms']['median']:.2f}",
            fmt_spread(s['cpu_us_per_req'], '{:.1f}'),
            ('-' if name == 'A' else fmt_spread(s['added_cpu_us_vs_A'], '{:+.1f}')) if 'added_cpu_us_vs_A' in s
            else '-',
            f"{s['worker_busy_pct']['median']:.0f}%",
            f"{s['rss_kb']['before_first']}->{s['rss_kb']['after_last']}",
            status,
        ])
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head] + rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return lines


def rounded(x):
    if isinstance(x, float):
        return round(x, 3)
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def cmd_final(a):
    runs = load(a.raw)
    setups = summarize_rounds(runs)
    skipped = {}
    if a.skipped and os.path.exists(a.skipped):
        for line in open(a.skipped):
            if '\t' in line:
                k, v = line.rstrip('\n').split('\t', 1)
                skipped[k] = v
    order = a.setups.split() if a.setups else ORDER
    notes = [line.strip() for line in open(a.notes)] if a.notes and os.path.exists(a.notes) else []
    slow = summarize_slow_op(runs)
    soak = summarize_soak(runs)
    cg = summarize_callgrind(runs)
    result = {
        'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        'machine': machine(a),
        'load': f'wrk {a.wrk} --latency, keep-alive; nginx 1 worker; upstream: a server block in the same '
                'nginx answering 200 "ok" over keep-alive connections',
        'rounds': a.rounds,
        'setups': setups,
        'skipped': skipped,
        'notes': notes,
        'slow_op': slow,
        'soak': soak,
        'callgrind': cg,
        'targets': TARGETS,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, 'w') as f:
        json.dump(rounded(result), f, indent=1)
        f.write('\n')

    m = result['machine']
    print()
    print(f"auth_oidc benchmark, {result['date']}: {m['cpus']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, "
          f"nginx {m['nginx']}, module {m['commit']} (built {m['module_built']})")
    print(f"load: wrk {a.wrk}, {a.rounds} alternating rounds; medians (min-max over rounds); "
          "CPU = nginx worker utime+stime per request; busy = worker CPU time / wall time; "
          "RSS = worker VmRSS before the first and after the last round")
    print()
    for line in table(setups, skipped, order):
        print(line)
    for name in order:
        if name in skipped:
            print(f'{name}: skipped ({skipped[name]})')
    for name in order:
        for p in setups.get(name, {}).get('problems', []):
            print(f'{name} INVALID {p}')
    for name in order:
        if 'redis_commands_per_req' in setups.get(name, {}):
            r = setups[name]['redis_commands_per_req']
            print(f"note: {name}: Redis processed {r['median']:.4f} commands per request (max {r['max']:.4f}) "
                  "during the rounds")
    for n in notes:
        print(f'note: {n}')
    idle = [n for n in order if n in setups and setups[n]['worker_busy_pct']['median'] < 90]
    if idle:
        print(f"note: the worker was busy less than 90 % of the time in {', '.join(idle)}: req/s there was limited "
              "by the load generator or other load on the machine, not by nginx; CPU us/req is the steadier figure")
    if slow:
        print()
        print(f"slow OP (B, token endpoint answering after 2 s): alone {fmt_spread(slow['quiet_rps'])} req/s, "
              f"with logins in progress {fmt_spread(slow['loaded_rps'])} req/s, "
              f"ratio {fmt_spread(slow['ratio_loaded_to_quiet'], '{:.2f}')}; p99 {slow['quiet_p99_ms']['median']:.2f} "
              f"-> {slow['loaded_p99_ms']['median']:.2f} ms; worker CPU {slow['quiet_cpu_us_per_req']['median']:.1f} -> "
              f"{slow['loaded_cpu_us_per_req']['median']:.1f} us/req; side load: {slow['logins_ok']} logins completed, "
              f"{slow['logins_failed']} failed, {slow['op_token_requests']} token requests reached the OP"
              + ('' if slow['valid'] else '  INVALID: ' + '; '.join(slow['problems'])))
    for name, s in soak.items():
        print()
        pts = s['samples_s_kb']
        step = max(1, len(pts) // 10)
        trace = ', '.join(f'{t}s {kb}' for t, kb in pts[::step] + ([pts[-1]] if pts and (len(pts) - 1) % step else []))
        print(f"soak {name}: {s['seconds']} s at {s['rps']:.0f} req/s; worker RSS kB {s['rss_kb_start']} -> "
              f"{s['rss_kb_end']} (max {s['rss_kb_max']}, growth {s['rss_kb_growth']:+d}, "
              f"second half {s['rss_kb_growth_second_half']:+d})" + ('' if s['valid'] else '  INVALID'))
        print(f'  RSS over time: {trace}')
    if cg:
        print()
        print('instructions per request (callgrind, wrk -t1 -c4, nginx master_process off; repeatable):')
        for name in order:
            c = cg.get(name)
            if c:
                added = f"{c['added_per_req_vs_A']:+8.0f} vs A" if 'added_per_req_vs_A' in c and name != 'A' else ' ' * 13
                print(f"  {name:<9} {c['instructions_per_req']:9.0f} {added}  over {c['requests']} requests  "
                      f"{c['profile']}" + ('' if c['valid'] else '  INVALID: ' + '; '.join(c['problems'])))
    print()
    print(f'JSON: {a.out}')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    line = sub.add_parser('line')
    line.add_argument('raw')
    side = sub.add_parser('side-load')
    for k in ('raw', 'out', 'stats0', 'stats1'):
        side.add_argument(k)
    ann = sub.add_parser('annotate')
    ann.add_argument('raw')
    ann.add_argument('fields')
    fin = sub.add_parser('final')
    fin.add_argument('raw')
    fin.add_argument('--out', required=True)
    fin.add_argument('--skipped')
    fin.add_argument('--notes')
    fin.add_argument('--setups')
    fin.add_argument('--nginx', default='nginx')
    fin.add_argument('--module', default='')
    fin.add_argument('--root', default='.')
    fin.add_argument('--wrk', default='')
    fin.add_argument('--rounds', type=int, default=0)
    a = p.parse_args()
    {'line': cmd_line, 'side-load': cmd_side_load, 'annotate': cmd_annotate, 'final': cmd_final}[a.cmd](a)


if __name__ == '__main__':
    main()
