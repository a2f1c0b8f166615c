import type { FakeReply, FakeRequest } from '../shared/fakeServer.js';

/** The page a Cloudflare v4 list asks for. */
export interface ListPage {
  page: number;
  perPage: number;
}

/**
 * `page` and `per_page` of a Cloudflare v4 list, or the 400 the endpoint answers bad ones with (each
 * endpoint family has its own code and message, and its own largest page).
 */
export function listPageOf(
  req: FakeRequest,
  limits: { defaultPerPage: number; maxPerPage: number | undefined; refusal: FakeReply },
): ListPage | FakeReply {
  const page = Number(req.query.get('page') ?? '1');
  const perPage = Number(req.query.get('per_page') ?? String(limits.defaultPerPage));
  const tooLarge = limits.maxPerPage !== undefined && perPage > limits.maxPerPage;
  if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1 || tooLarge)
    return limits.refusal;
  return { page, perPage };
}

/** One page of a list in the v4 envelope, with `result_info`. */
export function pagedReply(items: readonly unknown[], { page, perPage }: ListPage): FakeReply {
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return {
    status: 200,
    body: {
      result: slice,
      success: true,
      errors: [],
      messages: [],
      result_info: {
        page,
        per_page: perPage,
        count: slice.length,
        total_count: items.length,
        total_pages: Math.max(1, Math.ceil(items.length / perPage)),
      },
    },
  };
}
