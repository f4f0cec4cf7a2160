// Times arrive in UTC; show them in the viewer's own time zone.
const format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

function localizeTimes (root = document) {
  for (const element of root.querySelectorAll('time[datetime]')) {
    const moment = new Date(element.getAttribute('datetime'))
    if (Number.isNaN(moment.getTime())) continue
    element.title = element.getAttribute('datetime')
    element.textContent = format.format(moment)
  }
}

window.localizeTimes = localizeTimes
localizeTimes()
