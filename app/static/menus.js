// The "More" menus of the file lists (<details class="menu">). The browser already opens and closes one
// with Enter or Space on its summary, and Tab walks its items; this adds what a menu button is expected to
// do besides: Escape closes it and puts the focus back on "More", the arrow keys move between its items,
// and opening one menu, or clicking elsewhere, closes the others.
(() => {
  const items = (menu) => [...menu.querySelectorAll('.menu-items a, .menu-items button')]

  function close (menu, { focus = false } = {}) {
    menu.open = false
    if (focus) menu.querySelector('summary').focus()
  }

  document.addEventListener('keydown', (event) => {
    const menu = event.target.closest?.('details.menu[open]')
    if (!menu) return
    if (event.key === 'Escape') {
      event.preventDefault()
      close(menu, { focus: true })
      return
    }
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return
    event.preventDefault()
    const list = items(menu)
    const at = list.indexOf(document.activeElement)
    const step = event.key === 'ArrowDown' ? 1 : -1
    const next = at === -1 ? (step === 1 ? 0 : list.length - 1) : (at + step + list.length) % list.length
    list[next]?.focus()
  })

  // "toggle" does not bubble: it is caught on the way down.
  document.addEventListener('toggle', (event) => {
    const menu = event.target
    if (!menu.matches?.('details.menu') || !menu.open) return
    for (const other of document.querySelectorAll('details.menu[open]')) if (other !== menu) close(other)
  }, true)

  document.addEventListener('click', (event) => {
    for (const menu of document.querySelectorAll('details.menu[open]')) {
      if (!menu.contains(event.target)) close(menu)
    }
  })

  // Tabbing out of an open menu closes it, so it does not cover the next row.
  document.addEventListener('focusout', (event) => {
    const menu = event.target.closest?.('details.menu[open]')
    if (menu && event.relatedTarget && !menu.contains(event.relatedTarget)) close(menu)
  })
})()
