// The files page's uploader: Uppy sends each file straight to storage through
// the signed request Locker's API hands out, then asks Locker to check it.
import { AwsS3, Dashboard, Uppy } from '/vendor/uppy.min.mjs'

const root = document.getElementById('uploader')
const csrfToken = document.querySelector('meta[name="csrf-token"]').content

async function callApi (path, body) {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrfToken },
    body: JSON.stringify(body)
  })
  const data = await response.json().catch(() => ({}))
  if (!response.ok) {
    throw new Error(data.error?.message || `Locker answered ${response.status}.`)
  }
  return data
}

async function refreshList () {
  const url = new URL(window.location.href)
  url.searchParams.set('fragment', 'table')
  url.searchParams.delete('cursor')
  const response = await fetch(url, { credentials: 'same-origin' })
  if (!response.ok) return
  const table = document.getElementById('file-table')
  table.innerHTML = await response.text()
  window.localizeTimes?.(table)
}

const uppy = new Uppy({
  autoProceed: true,
  restrictions: { maxFileSize: Number(root.dataset.maxFileSize), minFileSize: 1 }
})

uppy.use(Dashboard, {
  inline: true,
  target: root,
  width: '100%',
  height: 300,
  proudlyDisplayPoweredByUppy: false
})

uppy.use(AwsS3, {
  shouldUseMultipart: false,
  async getUploadParameters (file) {
    const upload = await callApi('/api/v1/uploads', { name: file.name, size: file.size, content_type: file.type || '' })
    uppy.setFileMeta(file.id, { lockerId: upload.id })
    return { method: upload.method, url: upload.url, headers: upload.headers, fields: {} }
  }
})

// A file is listed only once Locker has confirmed storage holds all of it.
uppy.addPostProcessor(async (fileIDs) => {
  await Promise.all(fileIDs.map(async (id) => {
    const file = uppy.getFile(id)
    if (!file?.meta.lockerId) return
    uppy.emit('postprocess-progress', file, { mode: 'indeterminate', message: 'Checking…' })
    try {
      await callApi(`/api/v1/uploads/${file.meta.lockerId}/complete`, {})
    } catch (error) {
      // Marks the file failed (with Uppy's retry button) instead of "Complete".
      uppy.emit('upload-error', file, error)
    }
    uppy.emit('postprocess-complete', file)
  }))
  await refreshList()
})
