/**
 * The `'error'` listener of a socket nobody serves yet (accepted, before its
 * transport listens, or refused): the close that follows is what matters, and
 * an unheard `'error'` would end the process. One function for every such
 * socket, not a closure per connection.
 */
export function ignoreError(): void {}
