#!/usr/bin/env python3
"""A real browser login against nginx + the test OP, for the benchmark.

    login.py URL                      one login; prints the Cookie header value of the
                                      session cookie(s) nginx set (NGX_OIDC_SESSION...)
    login.py --loop N URL             side load: N logins at a time, again and again, until
                                      SIGTERM/SIGINT; then prints "logins: ok=.. failed=.."

A login is what a browser does: GET the protected URL (a top-level navigation), follow
the redirect to the OP, GET its login form, POST alice / alice-password, follow the
OP's redirects (automatic consent) back to nginx's callback, which sets the session
cookie and redirects to URL, where the upstream answers 200 "ok".
"""
import argparse
import http.cookiejar
import re
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request

USER, PASSWORD = 'alice', 'alice-password'
BROWSER_HEADERS = {
    'Accept': 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'Sec-Fetch-Mode': 'navigate',
    'Sec-Fetch-Dest': 'document',
    'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) oidc-bench/1',
}


def login(url, cookie_prefix='NGX_OIDC_SESSION', timeout=30):
    """Logs in through url; returns 'NAME=value; NAME_2=value...' of the session cookies."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = list(BROWSER_HEADERS.items())
    with opener.open(url, timeout=timeout) as r:       # -> OP's /auth -> its login form
        page, page_url = r.read().decode(), r.geturl()
    m = re.search(r'<form method="post" action="([^"]+)"', page)
    if not m:
        raise RuntimeError(f'no login form at {page_url}: {page[:200]!r}')
    action = urllib.parse.urljoin(page_url, m.group(1).replace('&amp;', '&'))
    form = urllib.parse.urlencode({'login': USER, 'password': PASSWORD}).encode()
    with opener.open(action, data=form, timeout=timeout) as r:   # -> consent -> callback -> url
        status, body, final = r.status, r.read(), r.geturl()
    if status != 200 or body != b'ok':
        raise RuntimeError(f'login ended at {final} with {status} {body[:200]!r}')
    host = urllib.parse.urlsplit(url).hostname
    cookies = sorted((c for c in jar if c.name.startswith(cookie_prefix) and c.domain.startswith(host)
                      and not c.name.startswith(cookie_prefix + '_state')), key=lambda c: c.name)
    if not cookies:
        raise RuntimeError(f'no {cookie_prefix} cookie after the login (cookies: {[c.name for c in jar]})')
    return '; '.join(f'{c.name}={c.value}' for c in cookies)


def loop(url, parallel):
    stop = threading.Event()
    counts = {'ok': 0, 'failed': 0}
    lock = threading.Lock()
    last_error = []

    def worker():
        while not stop.is_set():
            try:
                login(url)
                key = 'ok'
            except Exception as e:    # noqa: BLE001 - a side load counts failures, it does not stop
                key = 'failed'
                last_error[:] = [str(e)]
                time.sleep(0.2)
            with lock:
                counts[key] += 1

    def finish(*_):
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(parallel)]
    for t in threads:
        t.start()
    while not stop.is_set():
        stop.wait(0.2)
    # Logins still waiting on the slow OP are not counted: don't wait for them.
    with lock:
        print(f"logins: ok={counts['ok']} failed={counts['failed']}"
              + (f" last_error={last_error[0]!r}" if last_error else ''), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('url')
    p.add_argument('--loop', type=int, metavar='N', help='side load: N concurrent logins until SIGTERM')
    a = p.parse_args()
    if a.loop:
        loop(a.url, a.loop)
    else:
        print(login(a.url))


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print(f'login.py: {e}', file=sys.stderr)
        sys.exit(1)
