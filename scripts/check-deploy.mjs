// Offline checks of the deployment files, driven by scripts/check-deploy.sh.
// Usage: node scripts/check-deploy.mjs <repo-root> <tools-dir> <out-dir>
// Prints one line per check; exits 1 when any check fails.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [root, toolsDir, outDir] = process.argv.slice(2);
const require = createRequire(path.join(toolsDir, 'node_modules', 'noop.js'));
const yaml = require('js-yaml');

let failures = 0;
let passes = 0;
const ok = (msg) => { passes++; console.log(`  ok    ${msg}`); };
const fail = (msg) => { failures++; console.log(`  FAIL  ${msg}`); };
const rel = (p) => path.relative(root, p);

function walk(dir, filter, skipDir = () => false) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skipDir(entry.name, full)) out.push(...walk(full, filter, skipDir));
    } else if (filter(entry.name)) out.push(full);
  }
  return out.sort();
}

fs.mkdirSync(outDir, { recursive: true });
const wf = walk(path.join(root, '.github/workflows'), (n) => /\.ya?ml$/.test(n));
fs.writeFileSync(path.join(outDir, 'workflows.txt'), wf.join('\n') + '\n');

// (b) every YAML file under deploy/ and .github/ parses (Helm templates are Go templates: skipped).
console.log('YAML syntax (deploy/, .github/; chart templates/ excluded):');
const yamlFiles = [path.join(root, 'deploy'), path.join(root, '.github')].flatMap((d) =>
  walk(d, (n) => /\.ya?ml$/.test(n), (n) => n === 'templates' || n === '.terraform' || n === 'node_modules'));
for (const f of yamlFiles) {
  try {
    const docs = yaml.loadAll(fs.readFileSync(f, 'utf8'));
    if (docs.length === 0 || docs.every((d) => d == null)) throw new Error('empty document');
    ok(rel(f));
  } catch (e) { fail(`${rel(f)}: ${e.message.split('\n')[0]}`); }
}

// (d) JSON files parse (dashboard, chart schema).
console.log('JSON syntax:');
const jsonFiles = walk(path.join(root, 'deploy'), (n) => n.endsWith('.json'), (n) => n === '.terraform');
for (const f of jsonFiles) {
  try { JSON.parse(fs.readFileSync(f, 'utf8')); ok(rel(f)); } catch (e) { fail(`${rel(f)}: ${e.message}`); }
}
const dashPath = path.join(root, 'deploy/observability/grafana-dashboard.json');
try {
  const dash = JSON.parse(fs.readFileSync(dashPath, 'utf8'));
  const panels = (dash.panels || []).flatMap((p) => [p, ...(p.panels || [])]);
  const exprs = panels.flatMap((p) => (p.targets || []).map((t) => t.expr)).filter(Boolean);
  const need = ['http_server_request_duration_seconds', 'imageretrieval_images_ingested_total', 'imageretrieval_embedding_batch_size',
    'imageretrieval_embedding_queue_depth', 'imageretrieval_inference_duration_seconds', 'imageretrieval_store_call_duration_seconds',
    'imageretrieval_store_errors_total', 'imageretrieval_ready'];
  const missing = need.filter((m) => !exprs.some((e) => e.includes(m)));
  if (!dash.title || panels.length === 0) fail('grafana-dashboard.json: no title or no panels');
  else if (missing.length) fail(`grafana-dashboard.json: no panel queries ${missing.join(', ')}`);
  else ok(`grafana-dashboard.json: ${panels.length} panels, ${exprs.length} queries cover all ${need.length} service metrics`);
} catch (e) { fail(`grafana-dashboard.json: ${e.message}`); }

// (a) values files merged the way Helm merges them (null deletes a key), written as JSON for ajv.
console.log('Merged chart values (for ajv):');
const helmDir = path.join(root, 'deploy/helm');
const chartValues = path.join(helmDir, 'image-retrieval/values.yaml');
const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
function merge(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over ?? {})) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = merge(out[k], v);
    else out[k] = v;
  }
  return out;
}
const stripNulls = (v) => isMap(v)
  ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, stripNulls(x)]))
  : v;
let base = null;
try { base = yaml.load(fs.readFileSync(chartValues, 'utf8')); } catch (e) { fail(`${rel(chartValues)}: ${e.message.split('\n')[0]}`); }
if (base) {
  const sets = [['values.json', () => stripNulls(base)]];
  for (const f of walk(helmDir, (n) => /^values-.*\.ya?ml$/.test(n), (n) => n !== '.' && n !== 'helm')) {
    sets.push([path.basename(f).replace(/\.ya?ml$/, '.json'), () => stripNulls(merge(base, yaml.load(fs.readFileSync(f, 'utf8'))))]);
  }
  for (const [name, build] of sets) {
    try {
      fs.writeFileSync(path.join(outDir, name), JSON.stringify(build(), null, 2));
      ok(`${name.replace('.json', '')} merged over values.yaml -> ${rel(path.join(outDir, name))}`);
    } catch (e) { fail(`${name.replace('.json', '.yaml')}: ${e.message.split('\n')[0]}`); }
  }
}

// Env var names used by the chart and the Dockerfile are the service's documented ones.
console.log('Env var names (chart templates, Dockerfile) against the service configuration keys:');
const documented = new Set([
  'ImageRetrieval__DataPath', 'ImageRetrieval__PublicBaseUrl',
  'ImageRetrieval__Embedding__Model', 'ImageRetrieval__Embedding__Revision', 'ImageRetrieval__Embedding__CacheDirectory',
  'ImageRetrieval__Embedding__Quantized', 'ImageRetrieval__Embedding__Pooling', 'ImageRetrieval__Embedding__IntraOpThreads',
  'HF_ENDPOINT', 'HF_TOKEN',
  'ImageRetrieval__VectorStore__Provider', 'ImageRetrieval__VectorStore__Collection', 'ImageRetrieval__VectorStore__Namespace',
  'ImageRetrieval__VectorStore__Qdrant__Url', 'ImageRetrieval__VectorStore__Qdrant__ApiKey',
  'ImageRetrieval__VectorStore__Pinecone__ApiKey', 'ImageRetrieval__VectorStore__Pinecone__IndexName',
  'ImageRetrieval__VectorStore__Pinecone__Cloud', 'ImageRetrieval__VectorStore__Pinecone__Region',
  'ImageRetrieval__BlobStore__Provider', 'ImageRetrieval__BlobStore__Gcs__Bucket', 'ImageRetrieval__BlobStore__Gcs__Prefix',
  'ImageRetrieval__BlobStore__Gcs__SignedUrlLifetime', 'ImageRetrieval__LegacyApi__Enabled',
  'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME', 'ASPNETCORE_URLS',
  'ImageRetrieval__RateLimiting__PermitsPerMinute', 'ImageRetrieval__Limits__MaxRequestBytes',
  'ImageRetrieval__Server__MaxBufferedBodyBytes', 'ImageRetrieval__Server__MaxConcurrentConnections',
  'ImageRetrieval__Server__MinRequestBodyBytesPerSecond', 'ImageRetrieval__Server__RequestHeadersTimeout',
  'ImageRetrieval__Server__KeepAliveTimeout', 'ImageRetrieval__Logging__Format',
]);
// Platform variables read by .NET / ASP.NET Core themselves, not by the service's options.
const platform = new Set(['AllowedHosts', 'ASPNETCORE_ENVIRONMENT', 'DOTNET_RUNNING_IN_CONTAINER', 'DOTNET_CLI_TELEMETRY_OPTOUT', 'DOTNET_NOLOGO', 'TMPDIR']);
const allowed = (n) => documented.has(n) || platform.has(n) || /^ImageRetrieval__Auth__ApiKeys__(\d+|\{\{ \$i \}\})$/.test(n);
const used = new Map();
const note = (name, where) => { if (!used.has(name)) used.set(name, new Set()); used.get(name).add(where); };
const tplDir = path.join(helmDir, 'image-retrieval/templates');
for (const f of walk(tplDir, () => true)) {
  const text = fs.readFileSync(f, 'utf8');
  for (const m of text.matchAll(/-\s+name:\s+((?:ImageRetrieval|HF|OTEL|ASPNETCORE|DOTNET)_[A-Za-z0-9_{}$ ]*?)\s*$/gm)) note(m[1].trim(), rel(f));
  if (path.basename(f) === 'configmap.yaml') {
    const data = text.slice(text.indexOf('\ndata:'));
    for (const m of data.matchAll(/^\s{2}([A-Za-z][A-Za-z0-9_]*):\s/gm)) note(m[1], rel(f));
  }
}
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
for (const m of dockerfile.matchAll(/\b((?:ImageRetrieval__[A-Za-z0-9_]+)|(?:HF_[A-Z_]+)|(?:OTEL_[A-Z_]+)|(?:ASPNETCORE_[A-Z_]+)|(?:DOTNET_[A-Za-z_]+))=/g)) note(m[1], 'Dockerfile');
const unknown = [...used.keys()].filter((n) => !allowed(n));
if (used.size === 0) fail('found no env var names to check (pattern broke?)');
else if (unknown.length) for (const n of unknown) fail(`${n} (in ${[...used.get(n)].join(', ')}) is not a documented configuration key`);
else ok(`${used.size} env var names, all documented (${[...used.keys()].filter((n) => platform.has(n)).join(', ')} are .NET platform vars)`);

console.log(`check-deploy.mjs: ${passes} ok, ${failures} failing`);
process.exit(failures ? 1 : 0);
