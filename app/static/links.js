// Pages that show a share or upload link: copy it, and let a chosen date mean the end of the viewer's own day.
for (const button of document.querySelectorAll('[data-copy]')) {
  button.addEventListener('click', async () => {
    const input = document.getElementById(button.dataset.copy)
    const status = button.parentElement.querySelector('.copy-status')
    try {
      await navigator.clipboard.writeText(input.value)
      status.textContent = 'Copied.'
    } catch {
      input.select()
      status.textContent = 'Press Ctrl+C (or ⌘C) to copy.'
    }
  })
}

const offset = document.querySelector('input[name="utc_offset_minutes"]')
if (offset) offset.value = String(new Date().getTimezoneOffset())
