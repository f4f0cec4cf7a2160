// Moving by drag and drop on the files page: a file's or a folder's row dropped on a folder's row or on a
// breadcrumb ([data-drop-folder]) moves there (POST /api/v1/move), then the page reloads and says so.
// A row's drag carries ROW_TYPE; files dragged in from the computer carry "Files" and are left to the
// uploader (Uppy's DropTarget on the body): a row's drag events stop here, on the way down, before they reach it.
(() => {
  const ROW_TYPE = 'application/x-locker-item'
  const MOVED_KEY = 'locker-moved'
  const message = document.getElementById('move-message')
  const done = document.getElementById('move-done')

  const isRowDrag = (event) => [...(event.dataTransfer?.types || [])].includes(ROW_TYPE)
  const dropTarget = (event) => event.target.closest?.('[data-drop-folder]')
  let dragged = null // what is being dragged: { files, folders, name, id }

  function clearHighlight () {
    for (const element of document.querySelectorAll('.drop-over')) element.classList.remove('drop-over')
  }

  function showError (text) {
    message.textContent = text
    message.hidden = false
  }

  document.addEventListener('dragstart', (event) => {
    const row = event.target.closest?.('tr[draggable="true"]')
    if (!row) return
    const folderId = row.dataset.folderId
    dragged = {
      id: folderId || row.dataset.fileId,
      files: folderId ? [] : [row.dataset.fileId],
      folders: folderId ? [folderId] : [],
      name: row.dataset.name
    }
    event.dataTransfer.setData(ROW_TYPE, JSON.stringify(dragged))
    event.dataTransfer.setData('text/plain', dragged.name)
    event.dataTransfer.effectAllowed = 'move'
  })

  document.addEventListener('dragend', () => { dragged = null; clearHighlight() })

  for (const kind of ['dragenter', 'dragover']) {
    document.addEventListener(kind, (event) => {
      if (!isRowDrag(event)) return
      event.stopPropagation() // not a file from the computer: the uploader's drop area stays as it is
      const target = dropTarget(event)
      clearHighlight()
      if (!target || target.dataset.dropFolder === dragged?.id) return
      event.preventDefault() // allows the drop here
      event.dataTransfer.dropEffect = 'move'
      target.classList.add('drop-over')
    }, true)
  }

  document.addEventListener('dragleave', (event) => {
    if (isRowDrag(event)) event.stopPropagation()
  }, true)

  document.addEventListener('drop', async (event) => {
    if (!isRowDrag(event)) return
    event.stopPropagation()
    event.preventDefault()
    clearHighlight()
    const target = dropTarget(event)
    let item
    try {
      item = JSON.parse(event.dataTransfer.getData(ROW_TYPE))
    } catch {
      return
    }
    if (!target || target.dataset.dropFolder === item.id) return
    await move(item, target)
  }, true)

  async function move (item, target) {
    const where = target.dataset.name || target.textContent.trim()
    let response, body
    try {
      response = await fetch('/api/v1/move', {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          Accept: 'application/json',
          'Content-Type': 'application/json',
          'X-CSRFToken': document.querySelector('meta[name="csrf-token"]').content
        },
        body: JSON.stringify({ to: target.dataset.dropFolder, files: item.files, folders: item.folders })
      })
      body = await response.json().catch(() => ({}))
    } catch {
      showError(`${item.name} was not moved: Locker can't be reached. Try again in a moment.`)
      return
    }
    if (!response.ok) {
      showError(`${item.name} was not moved: ${body.error?.message || `the server answered ${response.status}.`}`)
      return
    }
    sessionStorage.setItem(MOVED_KEY, `Moved ${item.name} to ${where}.`)
    window.location.reload()
  }

  // After the reload: say what moved.
  const moved = sessionStorage.getItem(MOVED_KEY)
  if (moved && done) {
    sessionStorage.removeItem(MOVED_KEY)
    setTimeout(() => { done.textContent = moved }, 100)
  }
})()
