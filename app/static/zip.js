// Zip downloads that never pass file bytes through Locker.
//
// A zip list is what POST /s/<token>/zip-list (a folder or selection link) and POST /api/v1/zip-list
// (the owner's own files and folders) answer: {name, files: [{path, size, sha256, url}]}, one
// short-lived signed URL per file. zipDownload(list) fetches each URL in turn and writes the zip
// to disk as the bytes arrive (client-zip; ZIP64 above 4 GiB), so memory does not grow with the
// files' sizes:
//   - by default through a service worker (static/zip-sw.js) that answers a download with the zip
//     stream, so the browser saves it where it saves downloads;
//   - where no service worker can run, through the File System Access API (showSaveFilePicker,
//     Chromium), writing to the file the person chooses.
//
// Hooks (this module wires them up on load; a page only adds the markup and loads this file as a
// module: <script type="module" src="/static/zip.js"></script>):
//   <button data-zip-list="/s/<token>/zip-list" data-csrf="...">   a link's "Download all"
//   (any of them may add data-zip-name="Photos.zip": the name a save dialog proposes)
//   <button data-zip-folder="<folder id>">                          the owner's folder as a zip
//   <button data-zip-files="<id> <id> ..." data-zip-folders="<id> ...">  the owner's selection
// Owner buttons post to /api/v1/zip-list with the page's session and its <meta name="csrf-token">.
// Buttons start hidden and are shown once this browser can stream a zip. A status element
// [data-zip-status] next to the button (same parent) tells how it goes.
// Other scripts may also `import { zipDownload, ownerZipList } from '/static/zip.js'`.

const WORKER_URL = new URL('./zip-sw.js', import.meta.url)
const STREAM_SCOPE = new URL('./zip-stream/', import.meta.url)
const CLIENT_ZIP = '/vendor/client-zip.mjs'

export function canStream () {
  return ('serviceWorker' in navigator && window.isSecureContext) || 'showSaveFilePicker' in window
}

async function streamingWorker () {
  const registration = await navigator.serviceWorker.register(WORKER_URL, { scope: STREAM_SCOPE.pathname })
  const worker = registration.active
  if (worker) return worker
  const installing = registration.installing || registration.waiting
  await new Promise((resolve, reject) => {
    installing.addEventListener('statechange', () => {
      if (installing.state === 'activated') resolve()
      if (installing.state === 'redundant') reject(new Error('The download helper could not start.'))
    })
  })
  return registration.active
}

/** Ask for a zip list (POST) and give its JSON, or throw an Error with the server's message. */
export async function fetchZipList (url, csrfToken, body) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'X-CSRFToken': csrfToken, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined
  })
  const data = await response.json().catch(() => null)
  if (!response.ok) throw new Error(data?.error?.message || `The server answered ${response.status}.`)
  return data
}

/** The owner's files and folders as a zip list (POST /api/v1/zip-list with the page's session). */
export function ownerZipList ({ files = [], folders = [] }) {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || ''
  return fetchZipList('/api/v1/zip-list', csrf, { files, folders })
}

/**
 * Write the zip of `list` to disk. `getList` may be given instead of a list (a function that
 * fetches it), so that the save dialog, where one is shown, opens while the click still counts.
 * onStatus(text) is told how it goes; suggestedName is what a save dialog proposes. Resolves once
 * the zip is written (through the worker: once the last byte was handed to the browser's download).
 */
export async function zipDownload (listOrGetter, onStatus = () => {}, suggestedName = 'files.zip') {
  const getList = typeof listOrGetter === 'function' ? listOrGetter : async () => listOrGetter
  if ('serviceWorker' in navigator && window.isSecureContext) {
    let worker = null
    try {
      worker = await streamingWorker()
    } catch (error) {
      // Refused (private windows, a policy): write to a chosen file instead, where the browser can.
      if (!('showSaveFilePicker' in window)) throw error
    }
    if (worker) return throughWorker(worker, await getList(), onStatus)
  }
  if ('showSaveFilePicker' in window) {
    const handle = await window.showSaveFilePicker({ suggestedName, types: [{ description: 'Zip', accept: { 'application/zip': ['.zip'] } }] })
    const list = await getList()
    return toFile(handle, list, onStatus)
  }
  throw new Error('This browser cannot write a zip as it downloads; download the files one by one.')
}

function throughWorker (worker, list, onStatus) {
  const id = crypto.randomUUID()
  const channel = new MessageChannel()
  return new Promise((resolve, reject) => {
    let frame = null
    const keepAlive = setInterval(() => worker.postMessage({ type: 'ping' }), 10_000)
    const finish = (error) => {
      clearInterval(keepAlive)
      channel.port1.close()
      setTimeout(() => frame?.remove(), 1000)
      error ? reject(error) : resolve()
    }
    channel.port1.onmessage = ({ data }) => {
      if (data.type === 'ready') {
        frame = document.createElement('iframe')
        frame.hidden = true
        frame.title = 'zip download'
        frame.src = `${STREAM_SCOPE.pathname}${id}/${encodeURIComponent(list.name)}`
        document.body.append(frame)
        onStatus(`Downloading ${list.files.length} file${list.files.length === 1 ? '' : 's'} as ${list.name}…`)
      } else if (data.type === 'progress') {
        onStatus(`Downloading ${list.name}: ${Math.floor(100 * data.written / data.length)}%`)
      } else if (data.type === 'done') {
        onStatus(`Downloaded ${list.name}.`)
        finish()
      } else if (data.type === 'error') {
        onStatus(data.message)
        finish(new Error(data.message))
      }
    }
    worker.postMessage({ type: 'zip', id, name: list.name, files: list.files }, [channel.port2])
  })
}

async function toFile (handle, list, onStatus) {
  const { downloadZip } = await import(CLIENT_ZIP)
  async function * entries () {
    for (const file of list.files) {
      const response = await fetch(file.url, { mode: 'cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' })
      if (!response.ok) throw new Error(`Could not fetch ${file.path} (HTTP ${response.status}).`)
      onStatus(`Writing ${file.path}…`)
      yield { name: file.path, input: response, size: file.size, lastModified: new Date() }
    }
  }
  const metadata = list.files.map((file) => ({ name: file.path, size: file.size }))
  const writable = await handle.createWritable()
  await downloadZip(entries(), { metadata }).body.pipeTo(writable)
  onStatus(`Saved ${list.name}.`)
}

function statusOf (button) {
  return button.parentElement.querySelector('[data-zip-status]') || { set textContent (_) {} }
}

function wire (button, getList) {
  if (!canStream()) return
  button.hidden = false
  button.addEventListener('click', async () => {
    const status = statusOf(button)
    button.disabled = true
    try {
      await zipDownload(getList, (text) => { status.textContent = text }, button.dataset.zipName || 'files.zip')
    } catch (error) {
      if (error.name !== 'AbortError') status.textContent = error.message
    } finally {
      button.disabled = false
    }
  })
}

for (const button of document.querySelectorAll('[data-zip-list]')) {
  wire(button, () => fetchZipList(button.dataset.zipList, button.dataset.csrf))
}
for (const button of document.querySelectorAll('[data-zip-folder], [data-zip-files], [data-zip-folders]')) {
  const ids = (value) => (value || '').split(/\s+/).filter(Boolean)
  wire(button, () => ownerZipList({
    files: ids(button.dataset.zipFiles),
    folders: [...ids(button.dataset.zipFolder), ...ids(button.dataset.zipFolders)]
  }))
}
