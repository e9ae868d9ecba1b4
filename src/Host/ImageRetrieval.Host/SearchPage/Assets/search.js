// The search page: plain browser JavaScript, no build step. It calls the same /api/v1 as any client.
'use strict';

(() => {
  const api = '/api/v1';
  const keyStorage = 'image-retrieval.api-key';
  const $ = (id) => document.getElementById(id);
  const ui = {
    keySection: $('key-section'), keyForm: $('key-form'), key: $('api-key'),
    alert: $('alert'), status: $('status'),
    addFiles: $('add-files'), progress: $('add-progress'), outcomes: $('add-outcomes'),
    queryFile: $('query-file'), textForm: $('text-form'), queryText: $('query-text'),
    topK: $('top-k'), filter: $('filter'), results: $('results'), dropHint: $('drop-hint'),
  };
  const keysRequired = document.querySelector('meta[name="image-retrieval-api-key"]')?.content === 'required';
  let objectUrls = [];
  let searchSerial = 0;

  // ---- API key ---------------------------------------------------------------------------------

  const storedKey = () => sessionStorage.getItem(keyStorage) ?? '';
  const headers = () => (storedKey() ? { 'X-Api-Key': storedKey() } : {});
  const haveKey = () => !keysRequired || storedKey() !== '';

  function askForKey(message) {
    ui.keySection.hidden = false;
    if (message) showError(message);
    ui.key.focus();
  }

  ui.keyForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = ui.key.value.trim();
    if (!key) return;
    clearError();
    // One cheap authenticated call tells whether the key is accepted before anything else uses it.
    const answer = await call(`${api}/images?limit=1`, { headers: { 'X-Api-Key': key } });
    if (answer.status === 401) {
      showError('That API key was not accepted. Check it and try again.');
      ui.key.select();
      return;
    }

    sessionStorage.setItem(keyStorage, key);
    if (!answer.ok) {
      showError(describe(answer));
      return;
    }

    setStatus('API key accepted.');
    await checkModel();
  });

  // ---- Errors and status -----------------------------------------------------------------------

  function showError(text) {
    ui.alert.textContent = text;
  }

  function clearError() {
    ui.alert.textContent = '';
  }

  function setStatus(text) {
    ui.status.textContent = text;
  }

  const quoted = (name) => (name ? `“${name}”` : 'The file');

  function size(bytes) {
    const mb = bytes / (1024 * 1024);
    if (mb < 1) return `${Math.round(bytes / 1024)} KB`;
    return mb >= 10 ? `${Math.round(mb)} MB` : `${mb.toFixed(1)} MB`;
  }

  // Words a person understands for each problem the API can answer (RFC 9457 `type`s are stable).
  function describe(answer, fileName) {
    const problem = answer.body && typeof answer.body === 'object' ? answer.body : {};
    const slug = typeof problem.type === 'string' ? problem.type.replace('urn:image-retrieval:problem:', '') : '';
    const detail = typeof problem.detail === 'string' ? problem.detail : '';
    const status = answer.status;
    if (status === 0) return 'The service could not be reached. Check the connection and try again.';
    if (status === 401) return keysRequired && storedKey()
      ? 'The API key was not accepted. Enter a valid key in the “API key” box.'
      : 'This service needs an API key. Enter it in the “API key” box.';
    if (status === 429) {
      const wait = Number.parseInt(answer.retryAfter ?? '', 10);
      return `The service is receiving too many requests right now. Wait ${Number.isFinite(wait) && wait > 0 ? `${wait} seconds` : 'a moment'} and try again.`;
    }
    if (slug === 'unsupported-media-type' || slug === 'undecodable-image' || (status === 415 && !slug)) {
      return `${quoted(fileName)} is not an image the service can read. Use a JPEG, PNG, WebP, GIF, TIFF or HEIF file.`;
    }
    if (slug === 'image-too-large') return `${quoted(fileName)} has too many pixels for this service. Use a smaller image.`;
    if (status === 413 || slug === 'file-too-large' || slug === 'request-too-large') {
      const limit = /limit is (\d+)/.exec(detail);
      return `${quoted(fileName)} is too large for this service${limit ? ` (the limit is ${size(Number(limit[1]))})` : ''}. Use a smaller file.`;
    }
    if (slug === 'model-not-ready') return 'The model is still loading. Try again in a moment.';
    if (slug === 'store-unavailable') return 'The storage behind the service is not answering right now. Try again later.';
    if (slug === 'model-mismatch') return 'The stored images were indexed with a different model, so they cannot be searched until an operator re-indexes them.';
    if (slug === 'not-found') return 'That image is no longer stored.';
    if (slug === 'validation' || status === 400) return `The request was refused: ${detail || 'a value is not valid.'}`;
    if (status === 503) return 'The service is not ready. Try again in a moment.';
    return `Something went wrong (${status}${problem.title ? `: ${problem.title}` : ''}).${detail ? ` ${detail}` : ''}`;
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  async function call(url, init = {}) {
    try {
      const response = await fetch(url, { ...init, headers: { ...headers(), ...(init.headers ?? {}) } });
      const text = await response.text();
      let body = null;
      try { body = text ? JSON.parse(text) : null; } catch { body = null; }
      return { ok: response.ok, status: response.status, body, retryAfter: response.headers.get('Retry-After') };
    } catch {
      return { ok: false, status: 0, body: null, retryAfter: null };
    }
  }

  // XMLHttpRequest, not fetch: only it reports upload progress.
  function upload(url, form, onProgress) {
    return new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open('POST', url);
      for (const [name, value] of Object.entries(headers())) request.setRequestHeader(name, value);
      request.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
      request.addEventListener('load', () => {
        let body = null;
        try { body = request.responseText ? JSON.parse(request.responseText) : null; } catch { body = null; }
        resolve({ ok: request.status >= 200 && request.status < 300, status: request.status, body, retryAfter: request.getResponseHeader('Retry-After') });
      });
      request.addEventListener('error', () => resolve({ ok: false, status: 0, body: null, retryAfter: null }));
      request.send(form);
    });
  }

  // ---- Add images ------------------------------------------------------------------------------

  async function addImages(files) {
    if (files.length === 0) return;
    if (!haveKey()) { askForKey('Enter the API key before adding images.'); return; }
    clearError();
    ui.progress.hidden = false;
    ui.progress.value = 0;
    const rows = files.map((file) => {
      const row = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'file-name';
      name.textContent = file.name;
      const outcome = document.createElement('span');
      outcome.className = 'outcome';
      outcome.textContent = 'waiting';
      row.append(name, ' ', outcome);
      ui.outcomes.prepend(row);
      return outcome;
    });

    let stored = 0;
    let refused = 0;
    // One file per request: each file gets its own outcome, and no request comes near the size limits.
    for (let i = 0; i < files.length; i++) {
      const file = files[i];
      rows[i].textContent = 'sending…';
      const form = new FormData();
      form.append('files', file, file.name);
      form.append('metadata', JSON.stringify({ fileName: file.name }));
      const answer = await upload(`${api}/images`, form, (fraction) => { ui.progress.value = ((i + fraction) / files.length) * 100; });
      ui.progress.value = ((i + 1) / files.length) * 100;
      const item = answer.body?.items?.[0];
      if (answer.ok && item?.image) {
        stored++;
        rows[i].textContent = item.created ? 'stored' : 'already there';
        rows[i].dataset.outcome = item.created ? 'stored' : 'existing';
        continue;
      }

      refused++;
      const problem = item?.error ? { status: item.error.status, body: { type: item.error.type, detail: item.error.detail } } : answer;
      rows[i].textContent = `refused: ${describe(problem, file.name)}`;
      rows[i].dataset.outcome = 'refused';
      if (answer.status === 401) {
        askForKey(describe(answer));
        rows.slice(i + 1).forEach((row) => { row.textContent = 'not sent'; });
        break;
      }
    }

    ui.progress.hidden = true;
    setStatus(`Added ${stored} of ${files.length} file${files.length === 1 ? '' : 's'}${refused ? `; ${refused} refused` : ''}.`);
  }

  ui.addFiles.addEventListener('change', async () => {
    const files = [...ui.addFiles.files];
    await addImages(files);
    ui.addFiles.value = '';
  });

  // The whole page is a drop target, so nobody has to aim at a small box.
  let dragDepth = 0;
  const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
  document.addEventListener('dragenter', (event) => {
    if (!carriesFiles(event)) return;
    dragDepth++;
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) document.body.classList.remove('dragging');
  });
  document.addEventListener('dragover', (event) => {
    if (carriesFiles(event)) event.preventDefault();
  });
  document.addEventListener('drop', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    document.body.classList.remove('dragging');
    addImages([...event.dataTransfer.files]);
  });

  // ---- Search ----------------------------------------------------------------------------------

  function searchOptions() {
    const topK = Number.parseInt(ui.topK.value, 10);
    if (!Number.isInteger(topK) || topK < 1 || topK > 100) {
      return { error: 'Top K must be a whole number from 1 to 100.' };
    }

    const filter = ui.filter.value.trim();
    if (filter) {
      let parsed;
      try { parsed = JSON.parse(filter); } catch { parsed = undefined; }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return { error: 'The filter must be a JSON object, such as {"album": "trip"}.' };
      }
    }

    return { topK, filter };
  }

  async function search(describeQuery, send, fileName) {
    if (!haveKey()) { askForKey('Enter the API key before searching.'); return; }
    const options = searchOptions();
    if (options.error) { showError(options.error); return; }
    clearError();
    const serial = ++searchSerial;
    setStatus(`Searching ${describeQuery}…`);
    ui.results.setAttribute('aria-busy', 'true');
    const answer = await send(options);
    if (serial !== searchSerial) return; // a newer search replaced this one
    ui.results.removeAttribute('aria-busy');
    if (!answer.ok) {
      setStatus('');
      if (answer.status === 401) askForKey(describe(answer));
      else showError(describe(answer, fileName));
      return;
    }

    const results = answer.body?.results ?? [];
    showResults(results);
    setStatus(results.length === 0
      ? `No results ${describeQuery}.`
      : `${results.length} result${results.length === 1 ? '' : 's'} ${describeQuery} in ${Math.round(answer.body.tookMs ?? 0)} ms.`);
  }

  function searchByImage(file) {
    return search(`for ${quoted(file.name || 'the pasted image')}`, ({ topK, filter }) => {
      const form = new FormData();
      form.append('file', file, file.name || 'pasted-image');
      form.append('topK', String(topK));
      if (filter) form.append('filter', filter);
      return call(`${api}/search`, { method: 'POST', body: form });
    }, file.name || 'the pasted image');
  }

  function searchByText(text) {
    return search(`for “${text}”`, ({ topK, filter }) => {
      const form = new FormData();
      form.append('text', text);
      form.append('topK', String(topK));
      if (filter) form.append('filter', filter);
      return call(`${api}/search`, { method: 'POST', body: form });
    });
  }

  function searchSimilar(id, label) {
    return search(`similar to ${label}`, ({ topK, filter }) => {
      const query = new URLSearchParams({ topK: String(topK) });
      if (filter) query.set('filter', filter);
      return call(`${api}/images/${encodeURIComponent(id)}/similar?${query}`);
    });
  }

  ui.queryFile.addEventListener('change', async () => {
    const file = ui.queryFile.files?.[0];
    // Cleared so that choosing the same file again (after changing Top K or the filter) searches again.
    ui.queryFile.value = '';
    if (file) await searchByImage(file);
  });

  ui.textForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = ui.queryText.value.trim();
    if (text) await searchByText(text);
  });

  // Pasting an image anywhere searches with it; pasting text into a box stays ordinary pasting.
  document.addEventListener('paste', (event) => {
    const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
    if (!file) return;
    event.preventDefault();
    searchByImage(file);
  });

  // ---- Results ---------------------------------------------------------------------------------

  // The name a person gave the image (the page records the file name when it adds one), else a short id.
  function labelFor(hit) {
    const meta = hit.metadata ?? {};
    for (const key of ['fileName', 'title', 'name']) {
      if (typeof meta[key] === 'string' && meta[key]) return { text: meta[key], key, alt: `Stored image ${meta[key]}` };
    }
    const shortId = hit.id.slice(0, 8);
    return { text: `Image ${shortId}`, key: null, alt: `Stored image ${shortId}` };
  }

  function formatValue(value) {
    if (Array.isArray(value)) return value.join(', ');
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  function showResults(results) {
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls = [];
    ui.results.replaceChildren(...results.map((hit, index) => resultItem(hit, index)));
  }

  function resultItem(hit, index) {
    const { text: label, key: labelKey, alt } = labelFor(hit);
    const item = document.createElement('li');
    item.className = 'result';

    const img = document.createElement('img');
    img.alt = alt;
    img.decoding = 'async';
    loadImage(img, hit.id);

    const body = document.createElement('div');
    body.className = 'result-body';
    const caption = document.createElement('p');
    caption.className = 'result-name';
    caption.id = `result-${index}`;
    caption.textContent = label;
    const score = document.createElement('p');
    score.className = 'score';
    score.textContent = 'Score ';
    const value = document.createElement('strong');
    value.textContent = Number(hit.score).toFixed(2);
    score.append(value);

    const meta = document.createElement('dl');
    meta.className = 'metadata';
    for (const [key, field] of Object.entries(hit.metadata ?? {})) {
      if (key === labelKey) continue; // already the caption
      const term = document.createElement('dt');
      term.textContent = key;
      const description = document.createElement('dd');
      description.textContent = formatValue(field);
      meta.append(term, description);
    }

    const similar = document.createElement('button');
    similar.type = 'button';
    similar.textContent = 'Similar';
    similar.setAttribute('aria-describedby', caption.id);
    similar.addEventListener('click', () => searchSimilar(hit.id, quoted(label)));

    body.append(caption, score, meta, similar);
    item.append(img, body);
    return item;
  }

  // The bytes come through fetch so the API key header goes with them (an <img src> cannot send one);
  // the image then shows from an object URL, which the CSP allows as blob:.
  async function loadImage(img, id) {
    try {
      const response = await fetch(`${api}/images/${encodeURIComponent(id)}/content`, { headers: headers() });
      if (!response.ok) throw new Error(String(response.status));
      const url = URL.createObjectURL(await response.blob());
      objectUrls.push(url);
      img.src = url;
    } catch {
      img.classList.add('missing');
    }
  }

  // ---- Start -----------------------------------------------------------------------------------

  // Text search exists only when the model has a text tower; until the service says so the box stays hidden.
  async function checkModel(attempt = 0) {
    const answer = await call(`${api}/model`);
    ui.textForm.hidden = !(answer.ok && answer.body?.textSearch === true);
    // The model loads in the background after start-up; ask again until it has.
    if (answer.status === 503 && attempt < 40) setTimeout(() => checkModel(attempt + 1), 3000);
  }

  if (keysRequired) {
    ui.keySection.hidden = false;
    ui.key.value = storedKey();
  }

  if (haveKey()) checkModel();
})();
