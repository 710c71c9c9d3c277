import { IsNumber, IsOptional, IsString, IsNotEmpty, MaxLength, Min } from 'class-validator';
import { EventBaseDto, EVENT_FIELD_LIMITS, TrackEventDto } from './track-event.dto.js';

/** Body of `POST /installations/trackRevenue`: no eventName (Chabok names it `Purchase`). */
export class TrackRevenueDto extends EventBaseDto {
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'revenue must be a finite number' })
  @Min(0)
  revenue!: number;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(EVENT_FIELD_LIMITS.maxCurrencyLength)
  currency?: string;
}

/** Body of `POST /installations/trackPurchase`: a named event with a revenue. */
export class TrackPurchaseDto extends TrackEventDto {
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'revenue must be a finite number' })
  @Min(0)
  revenue!: number;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(EVENT_FIELD_LIMITS.maxCurrencyLength)
  currency?: string;
}
