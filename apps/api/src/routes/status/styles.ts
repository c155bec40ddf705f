/** The status page's stylesheet, inlined (no build step, nothing fetched). Mobile first. */
export const STATUS_CSS = `
:root{--ok:#1a7f37;--warning:#9a6700;--critical:#cf222e;--bg:#f6f8fa;--card:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--ok:#3fb950;--warning:#d29922;--critical:#f85149}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
.top{padding:16px;border-top:6px solid var(--ok);background:var(--card);border-bottom:1px solid var(--line)}
.top.warning{border-top-color:var(--warning)}.top.critical{border-top-color:var(--critical)}
h1{margin:0 0 4px;font-size:1.4rem}h2{font-size:1.1rem;margin:20px 0 8px}h3{margin:0;font-size:1rem;overflow-wrap:anywhere}
p{margin:4px 0}main{padding:0 12px 16px;max-width:1200px;margin:0 auto}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:.8rem;font-weight:600;text-transform:uppercase;color:#fff;background:var(--muted)}
.badge.ok{background:var(--ok)}.badge.warning{background:var(--warning)}.badge.critical{background:var(--critical)}
.grid{display:grid;grid-template-columns:1fr;gap:10px}
@media (min-width:640px){.grid{grid-template-columns:repeat(auto-fill,minmax(300px,1fr))}}
.db{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--ok);border-radius:8px;padding:10px 12px}
.db.warning{border-left-color:var(--warning)}.db.critical{border-left-color:var(--critical)}
.db header{display:flex;justify-content:space-between;align-items:center;gap:8px}
.db dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:8px 0 0}
.db dt{color:var(--muted)}.db dd{margin:0;overflow-wrap:anywhere}
.reasons{margin:6px 0 0;padding-left:18px}.reasons li.critical{color:var(--critical)}.reasons li.warning{color:var(--warning)}
.spark{color:var(--muted);vertical-align:middle}.db.critical .spark{color:var(--critical)}
.failures,.infra{list-style:none;padding:0;margin:0}
.failures li,.infra li{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:6px 10px;margin-bottom:6px;overflow-wrap:anywhere}
.err{color:var(--critical)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;background:var(--card);width:100%}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:right}
@media (max-width:480px){table{font-size:.85rem}th,td{padding:4px 5px}}th[scope=row],thead th:first-child{text-align:left}
footer{padding:12px;text-align:center;font-size:.85rem}
a{color:inherit}
`;
