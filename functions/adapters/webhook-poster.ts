import type { PostAnswer, WebhookPoster } from '../core/webhook-delivery';
import type { GetAnswer, HttpGetter } from '../core/notification-chain';

/** The webhook port over fetch: one POST, no redirects followed, bounded by its timeout. */
export const fetchWebhookPoster: WebhookPoster = {
  async post(url, headers, body, timeoutMs): Promise<PostAnswer> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      // Drained so the connection is released; the receiver's body is not kept (it may echo).
      await response.arrayBuffer();
      return { status: response.status, retryAfter: response.headers.get('retry-after') };
    } catch (error) {
      if ((error as Error).name === 'TimeoutError')
        return { failure: 'timeout', detail: `no answer within ${timeoutMs} ms` };
      const cause = (error as Error).cause as Error | undefined;
      return { failure: 'network', detail: cause?.message ?? (error as Error).message };
    }
  },
};

/** The chain's GET over fetch (GitHub's comment list): the body, Link and Retry-After kept. */
export const fetchHttpGetter: HttpGetter = {
  async get(url, headers, timeoutMs): Promise<GetAnswer> {
    try {
      const response = await fetch(url, {
        method: 'GET',
        headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      return {
        status: response.status,
        body: await response.text(),
        link: response.headers.get('link'),
        retryAfter: response.headers.get('retry-after'),
      };
    } catch (error) {
      if ((error as Error).name === 'TimeoutError')
        return { failure: 'timeout', detail: `no answer within ${timeoutMs} ms` };
      const cause = (error as Error).cause as Error | undefined;
      return { failure: 'network', detail: cause?.message ?? (error as Error).message };
    }
  },
};
