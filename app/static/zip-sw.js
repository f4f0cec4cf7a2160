// Locker's zip service worker: streams a zip of many files to disk as a normal download.
//
// The page (static/zip.js) hands it a list of files, each with a short-lived signed URL, then
// opens /static/zip-stream/<id>/<name>.zip in a hidden frame. This worker answers that request
// with a zip that client-zip writes as the bytes arrive: each file is fetched straight from
// storage by its own URL, one after another, and the browser saves the stream to disk, so no
// byte passes through Locker and memory does not grow with the files' sizes. client-zip
// writes ZIP64 records where a file or the whole zip passes 4 GiB.
/* global downloadZip */
importScripts('/vendor/client-zip.js')

const SCOPE = new URL('./zip-stream/', self.location).pathname
// Lists the page sent that no download has taken yet; a list is used once.
const waiting = new Map()

self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

self.addEventListener('message', (event) => {
  const job = event.data
  const port = event.ports[0]
  if (!job || !port) return
  if (job.type === 'zip') {
    waiting.set(job.id, { ...job, port })
    // Forget a list nobody came for.
    setTimeout(() => waiting.delete(job.id), 60_000)
    port.postMessage({ type: 'ready' })
  }
  // 'ping': the page's messages while a download runs keep this worker alive.
})

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (!url.pathname.startsWith(SCOPE)) return
  const id = url.pathname.slice(SCOPE.length).split('/')[0]
  const job = waiting.get(id)
  waiting.delete(id)
  if (!job) {
    event.respondWith(new Response('This download has already started or is over; start it again from the page.',
      { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }))
    return
  }
  event.respondWith(zipResponse(job))
})

async function * entries (job) {
  for (const [index, file] of job.files.entries()) {
    const response = await fetch(file.url, { mode: 'cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' })
    if (!response.ok) {
      const message = `Could not fetch ${file.path} (HTTP ${response.status}).`
      job.port.postMessage({ type: 'error', message })
      throw new Error(message)
    }
    job.port.postMessage({ type: 'file', index, path: file.path })
    yield { name: file.path, input: response, size: file.size, lastModified: new Date() }
  }
}

function zipResponse (job) {
  const metadata = job.files.map((file) => ({ name: file.path, size: file.size }))
  const zip = downloadZip(entries(job), { metadata })
  const length = zip.headers.get('Content-Length')
  let written = 0
  let reported = 0
  const counting = new TransformStream({
    transform (chunk, controller) {
      written += chunk.byteLength
      if (written - reported >= 4 * 1024 * 1024) {
        reported = written
        job.port.postMessage({ type: 'progress', written, length: Number(length) })
      }
      controller.enqueue(chunk)
    },
    flush () { job.port.postMessage({ type: 'done', written }) }
  })
  const headers = { 'Content-Type': 'application/zip', 'Content-Disposition': disposition(job.name), 'Cache-Control': 'no-store' }
  if (length) headers['Content-Length'] = length
  return new Response(zip.body.pipeThrough(counting), { headers })
}

function disposition (name) {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}
