// Input fields of the product commands, at the limits of the contract.
import { z } from 'zod';
import { requiredText, wholeNumber } from '../../core/input-fields.ts';

export const MAX_STOCK = 1_000_000;
export const productName = requiredText(200);
export const onHand = wholeNumber(0, MAX_STOCK);
/** A quantity that moves stock: at least 1. */
export const stockQuantity = wholeNumber(1, MAX_STOCK);
export const lineId = z.string().min(1).max(200);
