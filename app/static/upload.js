// The uploader of the files page and of upload-request pages (/r/<token>, whose
// endpoints mirror the API's: data-api-base). Uppy sends each file straight to
// storage through requests Locker signs; Locker then checks what storage holds.
//
// Every file is prepared first (an Uppy pre-processor): Locker starts the
// upload and answers with one signed PUT (small files) or a part size (large
// files). Small files are hashed before that, so the signed PUT carries their
// SHA-256 and storage refuses any other bytes. Large files go up in parts,
// several at a time, retried with backoff, pausable; each part is signed for its
// own SHA-256, and a Web Worker hashes the whole file meanwhile (a slice at a
// time) for Locker to check at completion.
//
// A multipart upload always starts the way a resumed one does: Uppy asks Locker
// which parts storage holds and sends only the others. So "Resume" on an
// unfinished upload (after a closed tab or a lost connection) is the same path:
// the person picks the same file again and the missing parts go up.
//
// A refused file stays in the list with the reason beside it, in plain words (REFUSALS, by Locker's error
// code); a refusal a retry cannot fix is not retried, and one about the name offers a rename. When the
// session ends, the files stay too: the person signs in again in another tab and retries here.
//
// On the files page a dropped or chosen folder keeps its tree: each file is started with its folder's path
// relative to the folder shown (Locker makes the folders that are missing). A guest's page takes the files only.
import { AwsS3, Dashboard, DropTarget, Uppy } from '/vendor/uppy.min.mjs'

const root = document.getElementById('uploader')
// Where uploads are started and finished: the API, or an upload request's own endpoints (/r/<token>).
const apiBase = root.dataset.apiBase || '/api/v1'
// Replaced when a new sign-in (in another tab) has given the session a new token.
let csrfToken = document.querySelector('meta[name="csrf-token"]').content
const multipartThreshold = Number(root.dataset.multipartThreshold)
const allowedTypes = JSON.parse(root.dataset.allowedTypes || '[]')
const blockedTypes = JSON.parse(root.dataset.blockedTypes || '[]')
const listStatus = document.getElementById('list-status')
const pendingMessage = document.getElementById('pending-message')
const resumeInput = document.getElementById('resume-input')

// Uppy 5's S3 plugin never cuts parts under 5 MiB (S3's own minimum) nor makes more than 10,000.
const UPPY_MIN_PART_SIZE = 5 * 1024 * 1024
const UPPY_MAX_PARTS = 10_000

// The drop area stays a strip below the list until it has files to show; then it grows to list them.
const COMPACT_HEIGHT = 150
const LISTING_HEIGHT = 300

class ApiError extends Error {
  constructor (message, status, code) {
    super(message)
    this.status = status
    this.code = code
  }
}

async function api (method, path, body, signal, { renewedToken = false } = {}) {
  const headers = { Accept: 'application/json', 'X-CSRFToken': csrfToken }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal
  })
  if (response.status === 204) return null
  const data = await response.json().catch(() => ({}))
  if (data.error?.code === 'csrf_failed' && !renewedToken && await renewCsrfToken()) {
    return api(method, path, body, signal, { renewedToken: true })
  }
  if (!response.ok) {
    throw new ApiError(data.error?.message || `Locker answered ${response.status}.`, response.status, data.error?.code)
  }
  return data
}

// Signing in again starts a new session with a new CSRF token: this page's own copy is read afresh.
async function renewCsrfToken () {
  let response
  try {
    response = await fetch(window.location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
  } catch {
    return false
  }
  const page = new DOMParser().parseFromString(await response.text(), 'text/html')
  const token = page.querySelector('meta[name="csrf-token"]')?.content
  // The login page has a token too, but no uploader: only a page like this one proves the session is back.
  if (!response.ok || !token || !page.getElementById('uploader')) return false
  csrfToken = token
  for (const input of document.querySelectorAll('input[name="csrf_token"]')) input.value = token
  return true
}

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']

// The same wording as the pages' human_size filter.
function humanSize (size) {
  let value = size
  let unit = UNITS[0]
  for (unit of UNITS) {
    if (value < 1024 || unit === UNITS.at(-1)) break
    value /= 1024
  }
  if (unit === 'bytes') return size === 1 ? '1 byte' : `${size} bytes`
  return value < 100 ? `${value.toFixed(1)} ${unit}` : `${Math.round(value)} ${unit}`
}

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('')

// --- SHA-256 in a Web Worker -------------------------------------------------

let worker = null
let lastJob = 0
const jobs = new Map()

function hashWorker () {
  if (worker) return worker
  const url = new URL(root.dataset.hashWorker, window.location.href)
  url.searchParams.set('library', root.dataset.hashLibrary)
  worker = new Worker(url)
  worker.onmessage = ({ data }) => {
    const job = jobs.get(data.id)
    if (!job) return
    if (data.type === 'progress') {
      job.onProgress?.(data.bytes)
      return
    }
    jobs.delete(data.id)
    if (data.type === 'done') job.resolve(data)
    else if (data.type === 'cancelled') job.reject(new DOMException('Hashing was cancelled.', 'AbortError'))
    else job.reject(new Error(`Could not compute the file's SHA-256: ${data.message}`))
  }
  worker.onerror = (event) => {
    event.preventDefault()
    for (const job of jobs.values()) job.reject(new Error(`Could not compute the file's SHA-256: ${event.message || 'the worker failed'}.`))
    jobs.clear()
    worker = null
  }
  return worker
}

// Hash a File or Blob off the main thread. With partSize, each part's digest comes back too.
function hashBlob (blob, { partSize, onProgress } = {}) {
  const id = ++lastJob
  const promise = new Promise((resolve, reject) => jobs.set(id, { resolve, reject, onProgress }))
  hashWorker().postMessage({ type: 'hash', id, blob, partSize })
  return { promise, cancel: () => worker?.postMessage({ type: 'cancel', id }) }
}

// One part's digest, for its signed URL. crypto.subtle exists only in secure contexts
// (HTTPS, localhost); a plain-HTTP LAN address uses the worker instead.
async function partSha256 (body) {
  if (window.crypto?.subtle) return hex(await window.crypto.subtle.digest('SHA-256', await body.arrayBuffer()))
  return (await hashBlob(body).promise).sha256
}

const fileHashes = new Map() // Uppy file id -> {promise, cancel, partSize}

function wholeFileHash (file, partSize, onProgress) {
  let job = fileHashes.get(file.id)
  if (!job || job.partSize !== partSize) {
    job?.cancel()
    job = { ...hashBlob(file.data, { partSize, onProgress }), partSize }
    fileHashes.set(file.id, job)
    // A failed or cancelled hash is started again next time it is needed.
    job.promise.catch(() => { if (fileHashes.get(file.id) === job) fileHashes.delete(file.id) })
  }
  return job.promise
}

// --- What the server allows --------------------------------------------------

// The server's rule: ".exe" matches the name's ending, "video/*" or "text/html" the type.
function typeRuleMatches (rule, name, type) {
  if (rule.startsWith('.')) return name.toLowerCase().endsWith(rule)
  if (rule.endsWith('/*')) return type.startsWith(rule.slice(0, -1))
  return type === rule
}

// Uppy cuts parts itself; they must be exactly the parts Locker signed URLs for.
function chunkingProblem (size, partSize, partCount) {
  let chunk = size
  let count = 1
  if (size > UPPY_MIN_PART_SIZE) {
    chunk = Math.max(partSize, UPPY_MIN_PART_SIZE)
    count = Math.ceil(size / chunk)
    if (Math.floor(size / chunk) > UPPY_MAX_PARTS) count = -1
  }
  if (count === partCount && (count === 1 || chunk === partSize)) return null
  return `Locker cuts this file into ${partCount} parts of ${humanSize(partSize)}, but the browser uploader ` +
    `can't send parts under ${humanSize(UPPY_MIN_PART_SIZE)}. Ask the administrator to set MULTIPART_PART_SIZE ` +
    'to 5 MiB or more, or upload this file with the API.'
}

// --- Why a file was refused, in plain words ------------------------------------

const MAX_NAME_LENGTH = Number(root.dataset.maxNameLength) // the service's limit (app/services/uploads.py)
const maxFileSize = Number(root.dataset.maxFileSize)
// On a guest's page the largest file can be what the request has left, not the per-file limit.
const largestIs = root.dataset.sizeLimit === 'total' ? 'the space left in this upload request' : 'the most one file can be'
// On a guest's page a 401 is the link's password (set or changed by its owner), not a signed-out session.
const guestPage = Boolean(root.dataset.apiBase)

// The server's message names the file first ("a.exe: files of type .exe …"); next to the file that is said already.
function withoutName (message, file) {
  const text = message.startsWith(`${file.name}: `) ? message.slice(file.name.length + 2) : message
  return text.charAt(0).toUpperCase() + text.slice(1)
}

// One line per refusal Locker (by its error code) or this uploader can give. `retry`: whether trying
// again can help; `rename`: whether a new name can. A code not listed keeps the server's own message.
const REFUSALS = {
  invalid_name: {
    rename: true,
    retry: false,
    words: (file, error) => {
      if (nameLength(file.name) > MAX_NAME_LENGTH) return `The name is too long: at most ${MAX_NAME_LENGTH} characters.`
      // A schema's wording ("name: Length must be …") means nothing to a person; the service's own messages do.
      return error.message.startsWith('name: ') ? 'This name cannot be used here: choose another.' : error.message
    }
  },
  // Completing found every free variant of the name taken by files arriving at the same moment.
  name_conflict: { rename: true, retry: true, words: () => 'Files with this name were arriving at the same moment. Rename this one, or retry.' },
  file_too_large: { retry: false, words: () => `This file is larger than ${humanSize(maxFileSize)}, ${largestIs}.` },
  // Locker's own message says how much the file needs and how much is left.
  quota_exceeded: { retry: false },
  request_too_large: { retry: false, words: () => 'This file is larger than the space left in this upload request.' },
  type_not_allowed: { retry: false, words: (file, error) => withoutName(error.message, file) },
  empty_file: { retry: false, words: () => 'This file is empty: there is nothing to upload.' },
  invalid_content_type: { retry: false, words: () => 'The browser gave this file a type Locker does not understand.' },
  storage_unavailable: { retry: true, words: () => 'Storage is not answering just now. Retry in a moment.' },
  unauthorized: { retry: true, words: () => SESSION_ENDED },
  password_required: { retry: false, words: () => 'This link now asks for a password: reload the page, enter it, and send the file again.' },
  // Locker's message says to reload the link's page (this browser's visit is not known to it).
  visit_required: { retry: false },
  size_mismatch: { retry: true, words: () => 'The file changed while it was being sent. Retry to send it again.' },
  checksum_mismatch: { retry: true, words: () => 'The file changed while it was being sent. Retry to send it again.' }
}

// Refusals Uppy gives before a file is added (restrictions), in the same plain words.
const RESTRICTION_STRINGS = {
  // Uppy's %{size} would be in its own units.
  exceedsSize: `%{file} was not added: it is larger than ${humanSize(maxFileSize)}, ${largestIs}.`,
  inferiorSize: 'This file is empty: there is nothing to upload.',
  youCanOnlyUploadFileTypes: 'Only these types are accepted here: %{types}.',
  noDuplicates: '%{fileName} is already in the list.',
  youCanOnlyUploadX: { 0: 'Only %{smart_count} more file is accepted here.', 1: 'Only %{smart_count} more files are accepted here.' }
}

const SESSION_ENDED = 'Your session has ended. Sign in again to continue uploading.'

class Refusal extends Error {
  constructor (message, { retry, rename, sessionEnded }) {
    super(message)
    Object.assign(this, { retry, rename, sessionEnded })
  }
}

// Errors as the person is told them; errors already described pass through.
function describe (file, error) {
  if (error instanceof Refusal) return error
  const code = error.status === 401 && !guestPage ? 'unauthorized' : error.code
  const entry = REFUSALS[code]
  if (!entry) return new Refusal(error.message, { retry: true, rename: false, sessionEnded: false })
  return new Refusal(entry.words?.(file, error) ?? error.message,
    { retry: entry.retry, rename: Boolean(entry.rename), sessionEnded: code === 'unauthorized' })
}

// Locker counts a name's characters (code points), not its UTF-16 units.
const nameLength = (name) => [...name.normalize('NFC').trim()].length

// Refused in this page, before asking Locker, as the server would refuse it.
function localRefusal (file) {
  const type = (file.type || '').toLowerCase()
  const rule = blockedTypes.find((r) => typeRuleMatches(r, file.name, type))
  if (rule) return describe(file, { code: 'type_not_allowed', message: `files of type ${rule} are not accepted here.` })
  if (nameLength(file.name) > MAX_NAME_LENGTH) return describe(file, { code: 'invalid_name', message: '' })
  return null
}

// --- Folders --------------------------------------------------------------------

// Guests send files only: an upload request puts everything in its own folder.
const folderUploads = !guestPage

// The folders a file came in, below the one dropped or chosen ("Trip/Day 1" of Trip/Day 1/b.txt), or undefined.
// A drop gives meta.relativePath, a folder picker the file's webkitRelativePath; both end with the file's name.
function folderPath (file) {
  if (!folderUploads) return undefined
  const relative = file.meta?.relativePath || file.data?.webkitRelativePath || ''
  const parts = relative.split('/').filter((part) => part && part !== '.')
  parts.pop()
  return parts.length ? parts.join('/') : undefined
}

// A file as the person knows it: with its folders when it came in some.
function pathName (file) {
  const path = folderPath(file)
  return path ? `${path}/${file.name}` : file.name
}

// Locker refuses a path whose folder names break the rules of names, or one too deep: a new file name can't help.
function folderRefusal (file, error) {
  const path = folderPath(file)
  if (!path) return null
  const aboutFolder = ['invalid_path', 'too_deep'].includes(error.code) ||
    (error.code === 'invalid_name' && /\bfolder\b/i.test(error.message))
  if (!aboutFolder) return null
  return new Refusal(`Its folder ${path} can't be made: ${error.message}`, { retry: false, rename: false, sessionEnded: false })
}

// --- Uppy --------------------------------------------------------------------

const uppy = new Uppy({
  autoProceed: true,
  restrictions: {
    maxFileSize,
    minFileSize: 1,
    maxNumberOfFiles: root.dataset.maxFiles ? Number(root.dataset.maxFiles) : null,
    allowedFileTypes: allowedTypes.length ? allowedTypes : null
  },
  locale: { strings: RESTRICTION_STRINGS }
})

uppy.use(Dashboard, {
  inline: true,
  target: root,
  width: '100%',
  height: COMPACT_HEIGHT,
  showProgressDetails: true,
  proudlyDisplayPoweredByUppy: false,
  theme: 'auto', // follows prefers-color-scheme, like locker.css
  // "browse files or browse folders": a folder's tree is made again under the folder shown.
  fileManagerSelectionType: folderUploads ? 'both' : 'files',
  doneButtonHandler: () => {
    // Clears the list without cancelling anything: unfinished uploads stay resumable below.
    uppy.clear()
    refreshList()
  }
})

// Files dropped anywhere on the page are taken, not only on the drop area (which may be out of sight).
uppy.use(DropTarget, { target: document.body })

function fitDashboard () {
  const height = uppy.getFiles().length ? LISTING_HEIGHT : COMPACT_HEIGHT
  const dashboard = uppy.getPlugin('Dashboard')
  if (dashboard.opts.height !== height) dashboard.setOptions({ height })
}
// Any change of the file list (added, removed, cleared by "Done") is a change of state.
uppy.on('state-update', fitDashboard)

const singleRequests = new Map() // Uppy file id -> Locker's signed PUT
const partSizes = new WeakMap() // file data -> the part size Locker chose for it
const storedParts = new Map() // Uppy file id -> the parts storage held when sending (re)started
const finished = new Set() // Locker upload ids completed from this page
const refusals = new Map() // Uppy file id -> why it failed last (a Refusal)
const aborted = new Set() // Locker upload ids cancelled from this page

async function abortUpload (lockerId) {
  if (!lockerId || aborted.has(lockerId) || finished.has(lockerId)) return
  aborted.add(lockerId)
  try {
    await api('DELETE', `${apiBase}/uploads/${lockerId}`)
  } catch (error) {
    // Already gone or already complete: nothing left to cancel.
    if (error.status !== 404 && error.status !== 409) {
      aborted.delete(lockerId)
      throw error
    }
  }
}

// What /complete answers when Locker has dropped the upload's bytes.
const DISCARDED = new Set(['size_mismatch', 'checksum_mismatch'])

// The upload is gone in Locker; this file starts a new one if it is tried again.
function forgetUpload (fileID) {
  if (!uppy.getFile(fileID)) return
  uppy.setFileMeta(fileID, { lockerId: null, lockerMultipart: null, lockerPartSize: null, lockerPartCount: null })
  uppy.setFileState(fileID, { s3Multipart: {} })
  storedParts.delete(fileID)
}

// Hand a multipart upload to Uppy as one being resumed: it lists the stored parts and sends the rest.
function useMultipart (file, lockerId, partSize, partCount, { fresh }) {
  const problem = chunkingProblem(file.size, partSize, partCount)
  if (problem) {
    if (fresh) abortUpload(lockerId).catch(() => {})
    throw new Error(problem)
  }
  partSizes.set(file.data, partSize)
  uppy.setFileState(file.id, { s3Multipart: { uploadId: lockerId, key: lockerId } })
  wholeFileHash(file, partSize) // runs while the parts go up; awaited before completing
}

async function hashBeforeSending (file) {
  const message = 'Computing the checksum…'
  uppy.emit('preprocess-progress', file, { mode: 'determinate', message, value: 0 })
  const digest = await wholeFileHash(file, undefined, (bytes) => {
    const current = uppy.getFile(file.id)
    if (current) uppy.emit('preprocess-progress', current, { mode: 'determinate', message, value: bytes / file.size })
  })
  return digest.sha256
}

// Inputs the page marks with data-upload-field (an upload request's "Your name") go with every upload.
function pageFields () {
  const fields = {}
  for (const input of document.querySelectorAll('[data-upload-field]')) fields[input.name] = input.value
  return fields
}

async function prepare (fileID) {
  const file = uppy.getFile(fileID)
  if (!file || file.progress.uploadComplete) return
  try {
    // Refused before, for a reason a retry cannot fix: refused again without asking Locker.
    const refused = refusals.get(fileID)
    if (refused && !refused.retry) throw refused
    const problem = localRefusal(file)
    if (problem) throw problem
    const { meta } = file
    if (meta.lockerId && meta.lockerMultipart) {
      // Resumed (or retried): keep the upload and the parts storage already holds.
      useMultipart(file, meta.lockerId, meta.lockerPartSize, meta.lockerPartCount, { fresh: false })
      return
    }
    if (meta.lockerId) {
      // A one-PUT upload tried before: its link may be spent, so it starts afresh.
      await abortUpload(meta.lockerId)
      uppy.setFileMeta(fileID, { lockerId: null })
      singleRequests.delete(fileID)
    }
    const multipart = file.size > multipartThreshold
    let sha256 = meta.sha256
    if (!multipart && !sha256) {
      sha256 = await hashBeforeSending(file)
      if (!uppy.getFile(fileID)) return
      uppy.setFileMeta(fileID, { sha256 })
    }
    const upload = await api('POST', `${apiBase}/uploads`, {
      ...pageFields(),
      folder: root.dataset.folder || undefined, // the folder page it was added on (the root without one)
      path: folderPath(file), // the folders it came in, made below that one where missing
      name: file.name,
      size: file.size,
      content_type: file.type || '',
      sha256: multipart ? undefined : sha256,
      part_checksums: multipart
    })
    if (!uppy.getFile(fileID)) {
      await abortUpload(upload.id)
      return
    }
    if (upload.multipart) {
      const { part_size: partSize, part_count: partCount } = upload.multipart
      uppy.setFileMeta(fileID, { lockerId: upload.id, lockerMultipart: true, lockerPartSize: partSize, lockerPartCount: partCount })
      useMultipart(uppy.getFile(fileID), upload.id, partSize, partCount, { fresh: true })
    } else {
      uppy.setFileMeta(fileID, { lockerId: upload.id, lockerMultipart: false })
      singleRequests.set(fileID, upload)
    }
  } catch (error) {
    const current = uppy.getFile(fileID)
    if (current && error.name !== 'AbortError') uppy.emit('upload-error', current, folderRefusal(current, error) ?? describe(current, error))
  } finally {
    const current = uppy.getFile(fileID)
    if (current) uppy.emit('preprocess-complete', current)
  }
}

uppy.addPreProcessor(async (fileIDs) => {
  await Promise.all(fileIDs.map(prepare))
  refreshList() // the space these uploads reserved (not awaited: the bytes need not wait for it)
})

uppy.use(AwsS3, {
  limit: 4, // requests in flight: part uploads and the calls that sign them
  retryDelays: [0, 1000, 3000, 5000, 10000],
  shouldUseMultipart: (file) => Boolean(file.meta.lockerMultipart),
  // Uppy passes the file's data here; parts must be exactly the size Locker signs them for.
  getChunkSize: (data) => partSizes.get(data) ?? Math.ceil(data.size / UPPY_MAX_PARTS),

  getUploadParameters (file) {
    const upload = singleRequests.get(file.id)
    if (!upload) throw new Error('Locker has not started this upload.')
    return { method: upload.method, url: upload.url, headers: upload.headers, fields: {} }
  },

  // Never makes a new upload: prepare() started it (or it is being resumed).
  createMultipartUpload (file) {
    const lockerId = uppy.getFile(file.id)?.meta.lockerId ?? file.meta.lockerId
    if (!lockerId) throw new Error('Locker has not started this upload.')
    return { uploadId: lockerId, key: lockerId }
  },

  async listParts (file, { uploadId, signal }) {
    let parts
    try {
      ({ parts } = await api('GET', `${apiBase}/uploads/${uploadId}/parts`, undefined, signal))
    } catch (error) {
      if (error.status === 404 || error.code === 'upload_gone') {
        forgetUpload(file.id)
        throw new Error('This upload was cancelled or has expired. Retry to send the file again from the start.')
      }
      throw error
    }
    storedParts.set(file.id, parts)
    return parts.map((part) => ({ PartNumber: part.number, Size: part.size, ETag: part.etag }))
  },

  async signPart (file, { uploadId, partNumber, body, signal }) {
    const sha256 = await partSha256(body)
    const { parts } = await api('POST', `${apiBase}/uploads/${uploadId}/parts`,
      { numbers: [partNumber], checksums: { [partNumber]: sha256 } }, signal)
    return { method: 'PUT', url: parts[0].url, headers: parts[0].headers }
  },

  async completeMultipartUpload (file, { uploadId, parts, signal }) {
    const current = uppy.getFile(file.id) ?? file
    const digest = await wholeFileHash(current, current.meta.lockerPartSize)
    // Parts stored before this file was picked must be this file's (storages that report each part's SHA-256).
    for (const part of storedParts.get(file.id) ?? []) {
      const expected = part.sha256 ?? (/^[0-9a-f]{64}$/.test(part.etag) ? part.etag : null)
      if (expected && digest.parts[part.number - 1] !== expected) {
        throw new Error(`This is not the file this upload started with: part ${part.number} differs. ` +
          'Remove it here to cancel the upload, then upload the file again.')
      }
    }
    let result
    try {
      result = await api('POST', `${apiBase}/uploads/${uploadId}/complete`, {
        parts: [...parts].sort((a, b) => a.PartNumber - b.PartNumber).map((p) => ({ number: p.PartNumber, etag: p.ETag })),
        sha256: digest.sha256
      }, signal)
    } catch (error) {
      // Locker discarded what storage held: a retry starts a new upload.
      if (DISCARDED.has(error.code)) forgetUpload(file.id)
      throw error
    }
    finished.add(uploadId)
    return { lockerFile: result }
  },

  async abortMultipartUpload (file, { uploadId }) {
    await abortUpload(uploadId)
  }
})

// One-PUT files are listed only once Locker has confirmed storage holds all of
// them (multipart ones were completed above, after the last part).
uppy.addPostProcessor(async (fileIDs) => {
  let uploaded = 0
  await Promise.all(fileIDs.map(async (id) => {
    const file = uppy.getFile(id)
    const lockerId = file?.meta.lockerId
    if (!lockerId || file.error) return
    if (file.meta.lockerMultipart) {
      if (finished.has(lockerId)) uploaded++
      return
    }
    if (!file.progress.uploadComplete) return
    uppy.emit('postprocess-progress', file, { mode: 'indeterminate', message: 'Checking…' })
    try {
      await api('POST', `${apiBase}/uploads/${lockerId}/complete`, {})
      finished.add(lockerId)
      uploaded++
    } catch (error) {
      // Marks the file failed (with Uppy's retry button) instead of "Complete".
      uppy.emit('upload-error', file, error)
    }
    uppy.emit('postprocess-complete', file)
  }))
  await refreshList(batchSummary(fileIDs, uploaded))
  showStatusWords()
})

uppy.on('file-removed', (file) => {
  fileHashes.get(file.id)?.cancel()
  fileHashes.delete(file.id)
  singleRequests.delete(file.id)
  storedParts.delete(file.id)
  refusals.delete(file.id)
  // Removing a file that is not finished cancels its upload in Locker too.
  const lockerId = file.meta?.lockerId
  if (lockerId && !finished.has(lockerId)) {
    abortUpload(lockerId).catch(() => {}).finally(() => refreshList())
  }
  updatePending()
})
uppy.on('file-added', () => updatePending())
updatePending()

// --- Telling why, next to the file ---------------------------------------------

uppy.on('upload-error', (file, error) => {
  if (!file || !uppy.getFile(file.id)) return
  const refusal = describe(file, error)
  refusals.set(file.id, refusal)
  // Uppy keeps the raw message; the file's item and the status bar's details show this one.
  uppy.setFileState(file.id, { error: refusal.message })
  uppy.setState({ error: refusal.message })
  if (refusal.sessionEnded) showSessionEnded()
  showStatusWords()
})
uppy.on('upload-success', (file) => { if (file) refusals.delete(file.id) })

// A live region of its own: the session message must stay visible, and it carries a link.
const notice = document.createElement('div')
notice.className = 'upload-notice'
notice.setAttribute('role', 'alert')
notice.hidden = true
root.after(notice)

function showSessionEnded () {
  if (!notice.hidden) return
  const link = document.createElement('a')
  // Signing in in another tab leaves this page, and the files picked here, as they are.
  link.href = `/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`
  link.target = '_blank'
  link.textContent = 'Sign in again (opens a new tab)'
  const after = document.createElement('span')
  after.textContent = ', then choose Retry here.'
  notice.replaceChildren(`${SESSION_ENDED} `, link, after)
  notice.hidden = false
}

// "3 uploaded, 2 failed. a.exe: Files of type .exe …" for screen readers, once per batch.
function batchSummary (fileIDs, uploaded) {
  const failed = fileIDs.map((id) => uppy.getFile(id)).filter((file) => file?.error)
  if (!failed.length) {
    if (fileIDs.length) notice.hidden = true // the session is back, or never ended
    return `${uploaded === 1 ? '1 file uploaded' : `${uploaded} files uploaded`}. The list is up to date.`
  }
  const reasons = failed.map((file) => `${pathName(file)}: ${file.error}`).join(' ')
  return `${countWords(uploaded, failed.length)}. ${reasons}`
}

function countWords (uploaded, failed) {
  if (!uploaded) return failed === 1 ? '1 file not uploaded' : `${failed} files not uploaded`
  return `${uploaded} uploaded, ${failed} failed`
}

// The status bar says what happened to all the files it lists, instead of "Upload failed · 0 of 0 files uploaded".
function showStatusWords () {
  const files = uppy.getFiles()
  const failed = files.filter((file) => file.error)
  const uploaded = files.filter((file) => !file.error && file.progress.uploadComplete).length
  uppy.setOptions({ locale: { strings: { ...RESTRICTION_STRINGS, uploadFailed: countWords(uploaded, failed.length) } } })
  // Starting an upload (a renamed file's) clears Uppy's error; files still refused keep the bar in its error state,
  // or it would offer to upload them as new ones.
  if (failed.length && !uppy.getState().error) uppy.setState({ error: failed.at(-1).error })
  // Uppy's Retry retries every failed file; it is hidden when none of them could go better.
  root.classList.toggle('nothing-to-retry', failed.every((file) => refusals.get(file.id)?.retry === false))
}

// Uppy renders its file items itself (Preact); each render, Locker's words are put back in them.
function decorateItems () {
  // With a single file Uppy drops its list's role but keeps the item's "listitem", which then belongs to no list.
  const list = root.querySelector('.uppy-Dashboard-files')
  if (list && !list.hasAttribute('role')) list.setAttribute('role', 'list')
  for (const item of root.querySelectorAll('.uppy-Dashboard-Item')) {
    const file = uppy.getFile(item.id.replace(/^uppy_/, ''))
    if (!file) continue
    // Uppy's sizes are in KB (of 1024 bytes); Locker's pages say KiB. The text node Preact owns is edited, not replaced.
    const size = item.querySelector('.uppy-Dashboard-Item-statusSize')?.firstChild
    if (size?.nodeType === Node.TEXT_NODE && size.data !== humanSize(file.size)) size.data = humanSize(file.size)
    const info = item.querySelector('.uppy-Dashboard-Item-fileInfo')
    // Files of a folder can share names: each says which folder it goes in.
    const path = folderPath(file)
    let where = item.querySelector('.upload-folder')
    if (path && info && where?.dataset.path !== path) {
      where?.remove()
      where = document.createElement('div')
      where.className = 'upload-folder'
      where.dataset.path = path
      where.textContent = `in ${path}`
      info.append(where)
    }
    let box = item.querySelector('.upload-refusal')
    if (!file.error) {
      box?.remove()
      continue
    }
    const refusal = refusals.get(file.id)
    if (box?.dataset.message === file.error && box.dataset.fileName === file.name) continue
    box?.remove()
    box = document.createElement('div')
    box.className = 'upload-refusal'
    box.dataset.message = file.error
    box.dataset.fileName = file.name
    const words = document.createElement('p')
    words.textContent = file.error
    box.append(words)
    if (refusal?.rename) {
      const button = document.createElement('button')
      button.type = 'button'
      button.className = 'button'
      button.textContent = 'Rename'
      button.setAttribute('aria-label', `Rename ${file.name}`)
      button.addEventListener('click', () => openRename(file.id))
      box.append(button)
    }
    info?.append(box)
  }
}

// The status bar's "7.7 KB of 23 KB" while sending: the same totals Uppy adds up, in Locker's units.
function decorateStatusBar () {
  const info = root.querySelector('.uppy-StatusBar-additionalInfo')
  const text = info && [...info.childNodes].find((node) => node.nodeType === Node.TEXT_NODE && / of /.test(node.data))
  if (!text) return
  const { startedFiles } = uppy.getObjectOfFilesPerState()
  if (!startedFiles.every((file) => file.progress.bytesTotal)) return // "of unknown": no total to show
  const sum = (key) => startedFiles.reduce((total, file) => total + (file.progress[key] || 0), 0)
  const words = `${humanSize(sum('bytesUploaded'))} of ${humanSize(sum('bytesTotal'))}`
  if (text.data !== words) text.data = words
}

new MutationObserver(() => {
  decorateItems()
  decorateStatusBar()
}).observe(root, { subtree: true, childList: true, characterData: true })

// --- Renaming a refused file ---------------------------------------------------

const renameDialog = document.createElement('dialog')
renameDialog.className = 'rename-dialog'
renameDialog.setAttribute('aria-labelledby', 'rename-title')
renameDialog.innerHTML = `
  <form method="dialog" novalidate>
    <h2 id="rename-title">Rename the file</h2>
    <p id="rename-reason"></p>
    <label for="rename-input">New name</label>
    <input id="rename-input" name="name" autocomplete="off" aria-describedby="rename-reason rename-error">
    <p id="rename-error" class="field-errors" role="alert"></p>
    <div class="actions">
      <button class="button primary" value="rename">Rename and upload</button>
      <button class="button" value="cancel" formnovalidate>Cancel</button>
    </div>
  </form>`
document.body.append(renameDialog)
const renameInput = renameDialog.querySelector('#rename-input')
const renameError = renameDialog.querySelector('#rename-error')
let renaming = null

function openRename (fileID) {
  const file = uppy.getFile(fileID)
  if (!file) return
  renaming = fileID
  renameDialog.querySelector('#rename-reason').textContent = file.error ?? ''
  renameError.textContent = ''
  renameInput.value = file.name
  renameDialog.showModal()
  renameInput.select()
}

renameDialog.querySelector('form').addEventListener('submit', (event) => {
  if (event.submitter?.value !== 'rename') return
  const name = renameInput.value.normalize('NFC').trim()
  let problem = null
  if (!name) problem = 'Give the file a name.'
  else if (nameLength(name) > MAX_NAME_LENGTH) problem = `That name has ${nameLength(name)} characters; at most ${MAX_NAME_LENGTH} are allowed.`
  if (problem) {
    event.preventDefault()
    renameError.textContent = problem
    renameInput.focus()
    return
  }
  const fileID = renaming
  if (!uppy.getFile(fileID)) return
  // An upload Locker started keeps the name it started with: a renamed file starts a new one.
  const { lockerId } = uppy.getFile(fileID).meta
  if (lockerId) abortUpload(lockerId).catch(() => {})
  forgetUpload(fileID)
  uppy.setFileState(fileID, { name })
  uppy.setFileMeta(fileID, { name })
  refusals.delete(fileID)
  uppy.retryUpload(fileID).catch(() => {}) // its error is shown next to it
})

renameDialog.addEventListener('close', () => {
  const item = renaming && document.getElementById(`uppy_${renaming}`)
  renaming = null
  focusQuietly(item?.querySelector('.upload-refusal button') ?? document.getElementById('upload-heading'))
})

// --- The list, the space used and the unfinished uploads ---------------------

function announce (text) {
  // Emptied first so the same words are announced again.
  listStatus.textContent = ''
  setTimeout(() => { listStatus.textContent = text }, 100)
}

async function refreshList (message) {
  const url = new URL(window.location.href)
  url.searchParams.set('fragment', 'regions')
  url.searchParams.delete('cursor')
  let response
  try {
    response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
  } catch {
    return // offline: the list stays as it was
  }
  if (!response.ok && !response.redirected && response.status !== 401) return
  const template = document.createElement('template')
  template.innerHTML = response.redirected ? '' : await response.text()
  const fresh = template.content.querySelector('[data-fragment="files"]')
  if (!fresh) {
    // Not the list: the session ended, or on a guest's page the link now wants a password. Files still in the
    // uploader are kept (with why they stopped beside them), to send after signing in or unlocking again.
    if (!uppy.getFiles().length) window.location.reload()
    else if (!guestPage) showSessionEnded()
    return
  }
  // A page has the regions it shows (an upload request's page has only its list).
  for (const id of ['usage', 'pending-uploads', 'file-table']) {
    const source = fresh.querySelector(`#${id}`)
    const target = document.getElementById(id)
    if (!source || !target) continue
    target.replaceChildren(...source.childNodes)
    window.localizeTimes?.(target)
  }
  updatePending()
  if (message) announce(message)
}

function activeUploadIds () {
  return new Set(uppy.getFiles().map((f) => f.meta.lockerId).filter((id) => id && !finished.has(id)))
}

// Uploads this page is sending are shown in the uploader, not again as unfinished.
function updatePending () {
  const section = document.querySelector('#pending-uploads .pending')
  if (!section) return
  const active = activeUploadIds()
  let shown = 0
  for (const item of section.querySelectorAll('li[data-upload-id]')) {
    item.hidden = active.has(item.dataset.uploadId)
    if (!item.hidden) shown++
  }
  section.hidden = shown === 0
  for (const button of section.querySelectorAll('[data-action="resume"]')) button.hidden = false
}

function showPendingMessage (text) {
  pendingMessage.textContent = text
  pendingMessage.hidden = !text
}

function focusQuietly (element) {
  if (!element) return
  if (!element.hasAttribute('tabindex')) element.setAttribute('tabindex', '-1')
  element.focus()
}

let resumeTarget = null

document.addEventListener('click', (event) => {
  const control = event.target.closest?.('#pending-uploads [data-action]')
  if (!control) return
  const item = control.closest('li[data-upload-id]')
  if (control.dataset.action === 'resume') {
    resumeTarget = { ...item.dataset }
    showPendingMessage('')
    resumeInput.value = ''
    resumeInput.click()
  } else if (control.dataset.action === 'cancel') {
    event.preventDefault()
    cancelPending(item)
  }
})

resumeInput?.addEventListener('change', () => {
  const picked = resumeInput.files[0]
  const target = resumeTarget
  resumeTarget = null
  if (picked && target) resumePicked(picked, target)
})

function resumePicked (picked, target) {
  const size = Number(target.size)
  if (picked.name.normalize('NFC').trim() !== target.name) {
    showPendingMessage(`You picked “${picked.name}”, but this unfinished upload is “${target.name}”. ` +
      'Pick the same file to resume it.')
    return
  }
  if (picked.size !== size) {
    showPendingMessage(`“${picked.name}” is ${humanSize(picked.size)} (${picked.size.toLocaleString()} bytes), but the ` +
      `unfinished upload is ${humanSize(size)} (${size.toLocaleString()} bytes), so it is not the same file. ` +
      'Pick the same file to resume it, or cancel the upload.')
    return
  }
  if (activeUploadIds().has(target.uploadId)) {
    showPendingMessage(`“${target.name}” is already being sent above.`)
    return
  }
  const multipart = target.multipart === 'true'
  const meta = multipart
    ? { lockerId: target.uploadId, lockerMultipart: true, lockerPartSize: Number(target.partSize), lockerPartCount: Number(target.partCount) }
    : { lockerId: target.uploadId, lockerMultipart: false }
  try {
    uppy.addFile({ name: picked.name, type: picked.type || target.contentType, data: picked, source: 'Locker resume', meta })
  } catch (error) {
    showPendingMessage(`Could not resume “${target.name}”: ${error.message}`)
    return
  }
  announce(multipart
    ? `Resuming ${target.name}: sending the parts that are missing.`
    : `Sending ${target.name} again.`)
  focusQuietly(document.getElementById('upload-heading'))
}

async function cancelPending (item) {
  const { uploadId, name } = item.dataset
  if (!window.confirm(`Cancel the upload of “${name}”? What has arrived so far will be deleted.`)) return
  try {
    await abortUpload(uploadId)
  } catch (error) {
    showPendingMessage(`Could not cancel the upload of “${name}”: ${error.message}`)
    return
  }
  showPendingMessage('')
  await refreshList(`Cancelled the upload of ${name}.`)
  focusQuietly(document.getElementById('pending-heading') ?? document.querySelector('main h1'))
}
