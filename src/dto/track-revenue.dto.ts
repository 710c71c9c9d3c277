import { applyDecorators } from '@nestjs/common';
import { IsNumber, IsOptional, IsString, IsNotEmpty, MaxLength, Min } from 'class-validator';
import { EventBaseDto, EVENT_FIELD_LIMITS, TrackEventDto } from './track-event.dto.js';

/** `revenue`: a finite number, not negative. */
const IsRevenue = () =>
  applyDecorators(
    IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'revenue must be a finite number' }),
    Min(0),
  );

/** `currency`: optional, e.g. `RIAL`. */
const IsCurrency = () =>
  applyDecorators(IsOptional(), IsString(), IsNotEmpty(), MaxLength(EVENT_FIELD_LIMITS.maxCurrencyLength));

/** Body of `POST /installations/trackRevenue`: no eventName (Chabok names it `Purchase`). */
export class TrackRevenueDto extends EventBaseDto {
  @IsRevenue() revenue!: number;
  @IsCurrency() currency?: string;
}

/** Body of `POST /installations/trackPurchase`: a named event with a revenue. */
export class TrackPurchaseDto extends TrackEventDto {
  @IsRevenue() revenue!: number;
  @IsCurrency() currency?: string;
}
