// The checkboxes of the files page and the trash page (form[data-bulk]: its rows' checkboxes name it with
// form="<its id>"). Without this script the form posts the ticked rows to the server and that is all; this adds
// "Select all on this page", Shift-click (or Shift+Space) to tick or untick the range from the last box
// changed, the toolbar shown only while something is ticked with "N selected" as its heading (also said in a
// live region), and the ticked ids for the "Download as zip" button (static/zip.js reads them on click).
(() => {
  for (const form of document.querySelectorAll('form[data-bulk]')) {
    const boxes = () => [...document.querySelectorAll(`input.bulk-check[form="${form.id}"]`)]
    const all = form.querySelector('.bulk-all')
    const toolbar = form.querySelector('.bulk-toolbar')
    const heading = form.querySelector('.bulk-heading')
    const live = document.getElementById(form.dataset.bulkCount)
    const zip = form.querySelector('[data-zip-files]')
    let anchor = null // the box the next range starts from
    let shiftSpace = false // a Space pressed with Shift: the click it makes extends the range
    let said = null

    for (const element of form.querySelectorAll('[data-bulk-js]')) element.hidden = false

    function update ({ announce = true } = {}) {
      const every = boxes()
      const ticked = every.filter((box) => box.checked)
      for (const box of every) box.closest('tr')?.classList.toggle('selected', box.checked)
      const count = ticked.length
      toolbar.hidden = count === 0
      heading.textContent = `${count} selected`
      if (all) {
        all.checked = count > 0 && count === every.length
        all.indeterminate = count > 0 && count < every.length
        all.closest('[data-bulk-js]').hidden = every.length === 0
      }
      if (zip) {
        zip.dataset.zipFiles = ticked.filter((box) => box.name === 'file').map((box) => box.value).join(' ')
        zip.dataset.zipFolders = ticked.filter((box) => box.name === 'folder').map((box) => box.value).join(' ')
      }
      const words = count ? `${count} selected` : 'Nothing selected'
      if (announce && live && words !== said) live.textContent = words
      said = words
    }

    document.addEventListener('keydown', (event) => {
      if (event.key === ' ' && event.target.matches?.(`input.bulk-check[form="${form.id}"]`)) shiftSpace = event.shiftKey
    })

    document.addEventListener('click', (event) => {
      const box = event.target.closest?.(`input.bulk-check[form="${form.id}"]`)
      if (!box) return
      const extend = event.shiftKey || shiftSpace
      shiftSpace = false
      const every = boxes()
      if (extend && anchor && anchor !== box && every.includes(anchor)) {
        const [from, to] = [every.indexOf(anchor), every.indexOf(box)].sort((a, b) => a - b)
        for (const other of every.slice(from, to + 1)) other.checked = box.checked
      }
      anchor = box
      update()
    })

    all?.addEventListener('change', () => {
      for (const box of boxes()) box.checked = all.checked
      anchor = null
      update()
    })

    // The list is redrawn after an upload or a refresh (fragment=table): keep the count true.
    const rows = document.getElementById(form.dataset.bulkRows)
    if (rows) new MutationObserver(() => update()).observe(rows, { childList: true, subtree: true })
    // A box ticked before the script ran (or restored by the browser on going back) counts too.
    update({ announce: false })
  }
})()
